import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { ISSUE_CODES, type IssueCode } from '../compliance/checks/issue-codes.js';
import { ENDORSEMENT_NAMES, ENDORSEMENT_STATUSES, type EndorsementName, type EndorsementStatus } from '../domain/endorsements.js';
import type { Mode } from '../domain/scope.js';
import { readAssetCatalogue } from '../domain/assets.js';
import { createEndorsementControls } from '../modules/customers/endorsement-controls.js';
import { createOperatorService, type Decision, type OperatorService } from '../modules/operator/operator.service.js';
import { withRuntime } from './with-runtime.js';

/** `oms review …`: the operator endpoints of /admin/v1, on the database directly, audited the same way. */

function oneOf<T extends string>(values: readonly T[], what: string) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value)) throw new InvalidArgumentError(`${what} must be one of: ${values.join(', ')}`);
    return value as T;
  };
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new InvalidArgumentError('must be a whole number from 1 to 500');
  return limit;
}

function parseOperator(value: string): string {
  if (value.trim() === '' || value.length > 200) throw new InvalidArgumentError('must name who is acting (1 to 200 characters)');
  return value.trim();
}

function parseIssues(value: string): IssueCode[] {
  return value.split(',').map((code) => oneOf(ISSUE_CODES, 'issue code')(code.trim()));
}

const defaultOperator = () => `cli:${userInfo().username}`;

function withOperator<T>(work: (operator: OperatorService) => Promise<T>): Promise<T> {
  return withRuntime(({ database, keyring }, config) => {
    const assets = readAssetCatalogue(config.assetsFile);
    return work(createOperatorService({ db: database.db, keyring, assets, controls: createEndorsementControls({ keyring, assets }) }));
  });
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

interface ActOptions {
  operator: string;
  reason: string;
}

export function addReviewCommands(program: Command): void {
  const review = program.command('review').description('compliance review: the queue, records, and decisions (all audited)');
  review
    .command('queue')
    .description('endorsements in a status (default PENDING), longest waiting first')
    .option('--status <status>', 'endorsement status', oneOf(ENDORSEMENT_STATUSES, 'status'), 'PENDING')
    .option('--mode <mode>', 'live or sandbox', oneOf(['live', 'sandbox'] as const, 'mode'))
    .option('--limit <n>', 'at most this many (1 to 500)', parseLimit, 100)
    .action(async (options: { status: EndorsementStatus; mode?: Mode; limit: number }) => {
      const items = await withOperator((operator) => operator.queue(options.status, options.limit, options.mode));
      for (const item of items) {
        process.stdout.write(`${item.since}  ${item.mode.padEnd(7)} ${item.customerId}  ${item.endorsement.padEnd(13)} ${item.status}  issues: ${item.requirements.issues.join(',') || '-'}\n`);
      }
    });

  review
    .command('show <customerId>')
    .description("print a customer's compliance record, PII included (the read is audited)")
    .option('--operator <who>', 'who is reading, for the audit log', parseOperator, defaultOperator())
    .action(async (customerId: string, options: { operator: string }) => {
      print(await withOperator((operator) => operator.record(options.operator, customerId)));
    });

  const decide = (action: Decision['action'], describe: string, extra?: (cmd: Command) => Command) => {
    const command = review
      .command(`${action} <customerId> <endorsement>`)
      .description(describe)
      .requiredOption('--reason <why>', 'why, for the audit log')
      .option('--operator <who>', 'who is deciding, for the audit log', parseOperator, defaultOperator());
    (extra ? extra(command) : command).action(
      async (customerId: string, endorsement: string, options: ActOptions & { issues?: IssueCode[]; developerReason?: string; customerReason?: string }) => {
        const name = oneOf(ENDORSEMENT_NAMES, 'endorsement')(endorsement) as EndorsementName;
        const decision: Decision = {
          action,
          reason: options.reason,
          issues: options.issues,
          rejectionReasons: options.developerReason && options.customerReason ? [{ developerReason: options.developerReason, reason: options.customerReason }] : undefined,
        };
        const customer = await withOperator((operator) => operator.decide(options.operator, customerId, name, decision));
        process.stdout.write(`${customerId} ${name}: ${customer.endorsements.find((e) => e.name === name)?.status}\n`);
      },
    );
  };
  decide('approve', 'grant the endorsement (PENDING, ISSUES or REVOKED_ISSUES → ACTIVE)');
  decide('markIssues', 'send a PENDING endorsement back to the customer with issues', (c) =>
    c.requiredOption('--issues <codes>', `comma-separated: ${ISSUE_CODES.join(', ')}`, parseIssues),
  );
  decide('revoke', 'revoke an ACTIVE endorsement with issues', (c) =>
    c.requiredOption('--issues <codes>', `comma-separated: ${ISSUE_CODES.join(', ')}`, parseIssues),
  );
  decide('reject', 'refuse the endorsement for good', (c) =>
    c.requiredOption('--developer-reason <text>', 'for the developer').requiredOption('--customer-reason <text>', 'safe to show the customer'),
  );

  review
    .command('offboard <customerId>')
    .description('offboard the customer: every endorsement OFFBOARDED, the customer inactive')
    .requiredOption('--reason <why>', 'why, for the audit log')
    .option('--operator <who>', 'who is deciding, for the audit log', parseOperator, defaultOperator())
    .action(async (customerId: string, options: ActOptions) => {
      const customer = await withOperator((operator) => operator.offboard(options.operator, customerId, options.reason));
      process.stdout.write(`${customerId}: ${customer.status}\n`);
    });
}
