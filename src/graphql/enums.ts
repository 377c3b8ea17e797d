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
  'WEBHOOK_ENDPOINT_CREATED',
  'WEBHOOK_ENDPOINT_UPDATED',
  'WEBHOOK_ENDPOINT_DELETED',
  'WEBHOOK_SECRET_ROTATED',
  'WEBHOOK_ENDPOINT_FAILING',
  'WEBHOOK_ENDPOINT_RECOVERED',
  'WEBHOOK_REDELIVERY_REQUESTED',
);
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
registerEnumType(AuditAction, { name: 'AuditAction' });
registerEnumType(WebhookEventType, {
  name: 'WebhookEventType',
  description: 'An event a webhook endpoint may subscribe to; the payload\'s `type` is the lower-case dotted name (SESSION_DECIDED: "session.decided").',
});
registerEnumType(WebhookDeliveryStatus, { name: 'WebhookDeliveryStatus' });
