import type { Db } from '../db/database.js';
import type { MasterKeyring } from './master-keys.js';
import { dataKeyAad } from '../modules/customers/customer-pii.js';
import { signingKeyAad } from '../modules/auth/signing-keys.js';
import { sealedSecretAad } from './sealed-secrets.js';
import { openWebhookSecret, sealWebhookSecret } from '../webhooks/webhook-secrets.js';

const BATCH = 500;

export interface RotationReport {
  secrets: number;
  signingKeys: number;
  customerDataKeys: number;
  webhookSecrets: number;
}

/**
 * Re-seals everything sealed under an older master key with the primary one: server secrets,
 * signing keys and every customer's data key. The PII itself is untouched (it is encrypted
 * under the data keys), so this is quick however much PII there is. Safe to interrupt and
 * run again: each row moves on its own.
 */
export async function resealUnderPrimary(db: Db, keyring: MasterKeyring): Promise<RotationReport> {
  const report: RotationReport = { secrets: 0, signingKeys: 0, customerDataKeys: 0, webhookSecrets: 0 };
  const stale = keyring.primaryId;

  for (const row of await db.selectFrom('sealed_secrets').selectAll().where('master_key_id', '!=', stale).execute()) {
    const next = keyring.seal(keyring.open({ sealed: row.sealed, masterKeyId: row.master_key_id }, sealedSecretAad(row.name)), sealedSecretAad(row.name));
    await db.updateTable('sealed_secrets').set({ sealed: next.sealed, master_key_id: next.masterKeyId }).where('name', '=', row.name).execute();
    report.secrets++;
  }

  for (const row of await db.selectFrom('signing_keys').selectAll().where('master_key_id', '!=', stale).execute()) {
    const aad = signingKeyAad(row.kid);
    const next = keyring.seal(keyring.open({ sealed: row.private_sealed, masterKeyId: row.master_key_id }, aad), aad);
    await db.updateTable('signing_keys').set({ private_sealed: next.sealed, master_key_id: next.masterKeyId }).where('kid', '=', row.kid).execute();
    report.signingKeys++;
  }

  for (;;) {
    const rows = await db
      .selectFrom('customers')
      .select(['project_id', 'mode', 'id', 'data_key_sealed', 'master_key_id'])
      .where('master_key_id', '!=', stale)
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    await db.transaction().execute(async (trx) => {
      for (const row of rows) {
        const aad = dataKeyAad({ projectId: row.project_id, mode: row.mode }, row.id);
        const next = keyring.seal(keyring.open({ sealed: row.data_key_sealed, masterKeyId: row.master_key_id }, aad), aad);
        await trx
          .updateTable('customers')
          .set({ data_key_sealed: next.sealed, master_key_id: next.masterKeyId })
          .where('project_id', '=', row.project_id)
          .where('mode', '=', row.mode)
          .where('id', '=', row.id)
          .where('master_key_id', '=', row.master_key_id)
          .execute();
      }
    });
    report.customerDataKeys += rows.length;
  }

  for (const row of await db.selectFrom('webhook_secrets').selectAll().where('master_key_id', '!=', stale).execute()) {
    const scope = { projectId: row.project_id, mode: row.mode };
    const next = sealWebhookSecret(keyring, scope, row.endpoint_id, openWebhookSecret(keyring, scope, row.endpoint_id, { sealed: row.sealed, masterKeyId: row.master_key_id }));
    await db
      .updateTable('webhook_secrets')
      .set({ sealed: next.sealed, master_key_id: next.masterKeyId })
      .where('project_id', '=', row.project_id)
      .where('mode', '=', row.mode)
      .where('endpoint_id', '=', row.endpoint_id)
      .where('seq', '=', row.seq)
      .execute();
    report.webhookSecrets++;
  }
  return report;
}
