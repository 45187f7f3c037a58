import fs from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { generateMasterKey, MASTER_KEY_FILE, readKeyFile } from '../crypto/master-keys.js';
import { resealUnderPrimary } from '../crypto/rotate-master-key.js';
import { isId } from '../domain/ids.js';
import type { Mode } from '../domain/scope.js';
import { createKeysService } from '../modules/auth/keys.service.js';
import { rotateSigningKey } from '../modules/auth/signing-keys.js';
import { addLedgerCommands } from './ledger-commands.js';
import { addReviewCommands } from './review-commands.js';
import { addWorkerCommand } from './worker-command.js';
import { addListenCommand } from './listen-command.js';
import { withRuntime } from './with-runtime.js';

function parseMode(value: string): Mode {
  if (value !== 'sandbox' && value !== 'live') throw new InvalidArgumentError('must be sandbox or live');
  return value;
}

function parseProject(value: string): string {
  if (!isId('project', value)) throw new InvalidArgumentError('must be a project id (prj_…)');
  return value;
}

/** The operator's command line; every command works whether or not a server is running (see with-runtime.ts). */
const program = new Command('oms').description('Operate an oms-server installation').showHelpAfterError();

const keys = program.command('keys').description('API keys');
keys
  .command('create')
  .description('create an API key (in a new project unless --project is given)')
  .requiredOption('--mode <mode>', 'sandbox or live', parseMode)
  .option('--project <projectId>', 'add the key to this project', parseProject)
  .option('--json', 'print {"projectId","apiKey","apiSecret"} as JSON')
  .action(async (options: { mode: Mode; project?: string; json?: boolean }) => {
    const created = await withRuntime(({ database, keyring }, config) =>
      createKeysService(database.db, keyring, config.keyEnvironment).createKey(options.mode, options.project),
    );
    if (options.json) {
      process.stdout.write(`${JSON.stringify(created)}\n`);
    } else {
      process.stdout.write(`project:   ${created.projectId}\napiKey:    ${created.apiKey}\napiSecret: ${created.apiSecret}\n(the secret is shown only now)\n`);
    }
  });
keys
  .command('revoke <apiKey>')
  .description('revoke an API key; its tokens stop working within seconds')
  .action(async (apiKey: string) => {
    const revoked = await withRuntime(({ database, keyring }, config) =>
      createKeysService(database.db, keyring, config.keyEnvironment).revoke(apiKey),
    );
    if (!revoked) {
      process.stderr.write(`no active API key ${apiKey}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`revoked ${apiKey}\n`);
  });

program
  .command('signing-keys')
  .description('token-signing keys')
  .command('rotate')
  .description('sign new tokens with a fresh key; tokens signed earlier stay valid until they expire')
  .action(async () => {
    const kid = await withRuntime(({ database, keyring }) => rotateSigningKey(database.db, keyring));
    process.stdout.write(`signing with ${kid}\n`);
  });

const masterKey = program.command('master-key').description('the master key that seals PII data keys and server secrets');
masterKey
  .command('generate')
  .description('print a new random master key (base64, 32 bytes) for OMS_MASTER_KEY')
  .action(() => {
    process.stdout.write(`${generateMasterKey()}\n`);
  });
masterKey
  .command('rotate')
  .description(
    're-seal everything under the primary master key. With OMS_MASTER_KEY: set the new key there and the old one in ' +
      'OMS_MASTER_KEY_PREVIOUS, then run this. With the generated key file: --generate makes the new key.',
  )
  .option('--generate', 'generate a new key in the data directory key file first (only without OMS_MASTER_KEY)')
  .action(async (options: { generate?: boolean }) => {
    const config = loadConfig();
    const keyFile = path.join(config.dataDir, MASTER_KEY_FILE);
    if (options.generate) {
      if (config.masterKey) throw new InvalidArgumentError('--generate manages the key file; with OMS_MASTER_KEY set, rotate through the environment');
      // Old keys stay in the file until every value is re-sealed, so an interruption loses nothing.
      await fs.writeFile(keyFile, [generateMasterKey(), ...(await readKeyFile(keyFile))].join('\n') + '\n', { mode: 0o600 });
    }
    const report = await withRuntime(({ database, keyring }) => resealUnderPrimary(database.db, keyring));
    if (options.generate) {
      const [primary] = await readKeyFile(keyFile);
      await fs.writeFile(keyFile, `${primary}\n`, { mode: 0o600 });
    }
    process.stdout.write(
      `re-sealed ${report.customerDataKeys} customer data keys, ${report.signingKeys} signing keys, ${report.secrets} server secrets, ${report.webhookSecrets} webhook secrets\n`,
    );
  });

addReviewCommands(program);
addLedgerCommands(program);
addWorkerCommand(program);
addListenCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`oms: ${(err as Error).message}\n`);
  process.exit(1);
});
