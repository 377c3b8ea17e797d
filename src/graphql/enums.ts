/**
 * The GraphQL enums of the public API (docs/api.md). Their values equal their names, and equal the string
 * unions of the domain model, so records pass through resolvers unchanged.
 */
import { registerEnumType } from 'type-graphql';

const values = <const T extends string>(...names: T[]) => Object.fromEntries(names.map((name) => [name, name])) as { [K in T]: K };

export const LivenessOperationMode = values('PASSIVE', 'PASSIVE_ACTIVE');
export const SessionKind = values('LIVENESS', 'LIVENESS_WITH_VERIFY');
export const SessionStatus = values('NOT_STARTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'EXPIRED', 'DELETED');
export const LivenessDecision = values('REAL_FACE', 'SPOOF_FACE', 'UNCERTAIN');
export const QualityForRecognition = values('LOW', 'MEDIUM', 'HIGH');
export const Verdict = values('PASS', 'FAIL', 'INCONCLUSIVE', 'EXPIRED');
export const Role = values('USER', 'AUDITOR', 'ADMIN');
export const AuditAction = values(
  'SESSION_STARTED',
  'COMPLETION_REPORTED',
  'ATTEMPT_RECORDED',
  'DECISION_REACHED',
  'SESSION_DELETED',
  'SESSION_EXPIRED',
  'DEVICE_CORRELATION_ID_ROTATED',
  'EVIDENCE_STORED',
  'EVIDENCE_VIEWED',
  'EVIDENCE_PURGED',
  'FACE_SESSION_DELETED',
  'WEBHOOK_ENDPOINT_CREATED',
  'WEBHOOK_ENDPOINT_UPDATED',
  'WEBHOOK_ENDPOINT_DELETED',
  'WEBHOOK_SECRET_ROTATED',
  'WEBHOOK_ENDPOINT_FAILING',
  'WEBHOOK_ENDPOINT_RECOVERED',
  'WEBHOOK_REDELIVERY_REQUESTED',
  'TENANT_POLICY_CHANGED',
  'USER_DATA_ERASED',
);
export const DecisionReason = values('DIGEST_MISMATCH');
export const AuditReason = values('DIGEST_MISMATCH', 'VERIFY_IMAGE_HASH_MISMATCH');
export const WebhookEventType = values('SESSION_DECIDED', 'SESSION_EXPIRED', 'SESSION_DELETED');
export const WebhookDeliveryStatus = values('PENDING', 'DELIVERED', 'FAILED');

registerEnumType(LivenessOperationMode, { name: 'LivenessOperationMode', description: 'PASSIVE, or PASSIVE_ACTIVE (adds an active challenge on the device).' });
registerEnumType(SessionKind, { name: 'SessionKind' });
registerEnumType(SessionStatus, { name: 'SessionStatus' });
registerEnumType(LivenessDecision, { name: 'LivenessDecision' });
registerEnumType(QualityForRecognition, { name: 'QualityForRecognition' });
registerEnumType(Verdict, {
  name: 'Verdict',
  valuesConfig: {
    PASS: { description: 'REAL_FACE, and for verify sessions also isIdentical' },
    FAIL: { description: 'SPOOF_FACE, or a verify session whose face is not identical' },
    INCONCLUSIVE: { description: 'UNCERTAIN, or every attempt ended in an error' },
    EXPIRED: { description: 'the session ended (expired, canceled, deleted) without a result' },
  },
});
registerEnumType(Role, { name: 'Role' });
registerEnumType(AuditAction, {
  name: 'AuditAction',
  valuesConfig: {
    DEVICE_CORRELATION_ID_ROTATED: { description: "an admin rotated a user's derived device correlation id (sessionId empty)" },
    EVIDENCE_STORED: { description: "an attempt's session image, fetched from Face, stored encrypted (actor: system)" },
    EVIDENCE_VIEWED: { description: "an attempt's session image served through a one-time link (actor: who asked for the link)" },
    EVIDENCE_PURGED: { description: "an attempt's session image deleted at the end of its retention (actor: system)" },
    FACE_SESSION_DELETED: { description: 'the decided session deleted at Face, its device token with it; the session stays decided (actor: system)' },
    TENANT_POLICY_CHANGED: { description: "an admin set or cleared the tenant's policy; `change` holds it before and after (sessionId empty)" },
    USER_DATA_ERASED: { description: "an admin erased a user's personal data; userId is the pseudonym, `erasure` holds the counts (sessionId empty)" },
  },
});
registerEnumType(DecisionReason, {
  name: 'DecisionReason',
  description: 'Why a verdict is not what Face reported alone.',
  valuesConfig: { DIGEST_MISMATCH: { description: "the digest the device reported differs from Face's: the result is not trusted (FAIL)" } },
});
registerEnumType(AuditReason, {
  name: 'AuditReason',
  description: 'What an audit event records as amiss.',
  valuesConfig: {
    DIGEST_MISMATCH: { description: "the device's digest differs from Face's (on DECISION_REACHED)" },
    VERIFY_IMAGE_HASH_MISMATCH: { description: 'Face hashed another verify image than the one the gateway sent (on ATTEMPT_RECORDED)' },
  },
});
registerEnumType(WebhookEventType, {
  name: 'WebhookEventType',
  description: 'An event a webhook endpoint may subscribe to; the payload\'s `type` is the lower-case dotted name (SESSION_DECIDED: "session.decided").',
});
registerEnumType(WebhookDeliveryStatus, { name: 'WebhookDeliveryStatus' });
