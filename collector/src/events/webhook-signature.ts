/**
 * The signatures a webhook delivery carries (API.md, "Conflicts and alerts"), both keyed with
 * the webhook's secret as its UTF-8 bytes:
 *
 * - `X-Ipwarden-Signature: sha256=<hex HMAC-SHA256 of the raw body>`;
 * - Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`
 *   (seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. That
 *   spec's libraries take the key as `whsec_<base64 of the key's bytes>`, so a receiver using
 *   one passes `whsec_` + base64(secret).
 */
import { createHmac } from 'node:crypto';

export interface SignedDelivery {
  /** The event id, which is also the Standard Webhooks message id. */
  id: number;
  /** When it is sent, in seconds since the epoch. */
  timestamp: number;
  /** The raw body, exactly as sent. */
  body: string;
}

export function signatureHeaders(secret: string, delivery: SignedDelivery): Record<string, string> {
  const key = Buffer.from(secret, 'utf8');
  const hex = createHmac('sha256', key).update(delivery.body).digest('hex');
  const standard = createHmac('sha256', key)
    .update(`${delivery.id}.${delivery.timestamp}.${delivery.body}`)
    .digest('base64');
  return {
    'x-ipwarden-signature': `sha256=${hex}`,
    'webhook-id': String(delivery.id),
    'webhook-timestamp': String(delivery.timestamp),
    'webhook-signature': `v1,${standard}`,
  };
}

/** The secret as Standard Webhooks libraries want it. */
export function standardWebhooksSecret(secret: string): string {
  return `whsec_${Buffer.from(secret, 'utf8').toString('base64')}`;
}
