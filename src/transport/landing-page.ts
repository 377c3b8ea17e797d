/**
 * What Apollo Sandbox opens with (outside production, or with ENABLE_SANDBOX=true): every public
 * operation in one document, the variables they take pre-filled, and, outside production, the dev
 * token in the Authorization header (src/gateway.ts).
 *
 * The local Sandbox takes one `document`, `variables` and `headers` as its initial state; Apollo's
 * `collectionId`/`operationId` name a collection saved in GraphOS Studio for a registered graph, which a
 * self-hosted gateway has not. So the "collection" is this document: Sandbox lists its operations and
 * runs the one picked, with the shared variables. Every operation takes its arguments as variables, and
 * they share names where their types agree (`$id` is the session's id everywhere, so one paste fills
 * them all). A test runs each operation with these variables (test/e2e/sandbox.test.ts).
 */

/** What `$id` holds until a session's id is pasted in (answers NOT_FOUND, as any unknown id does). */
export const SESSION_ID_PLACEHOLDER = 'paste-the-session-id-here';
export const ENDPOINT_ID_PLACEHOLDER = 'paste-an-endpoint-id-here';
export const DELIVERY_ID_PLACEHOLDER = 'paste-a-delivery-id-here';

/** A valid 1x1 PNG, base64, padded with a text chunk over Face's 1 KB minimum: enough for the emulator's verify reference. */
const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAADyHRFWHRDb21tZW50AHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eJg6bF0AAAANSURBVHjaY2Rg+F8PAAKHAYDrR7qSAAAAAElFTkSuQmCC';

export const landingPageDocument = `# Every operation of the gateway. Pick one to run; the Variables panel is shared by all of them.
# 1. Who am I? (with the generated development secret, the Authorization header holds a dev token)
query Viewer {
  viewer { userId tenant roles }
}

# 2. Start a session, then copy session.id into the variable "id". authToken goes to the device's Face SDK.
mutation StartLivenessSession($livenessInput: StartLivenessSessionInput!) {
  startLivenessSession(input: $livenessInput) {
    authToken
    session { id kind status operationMode expiresAt }
  }
}

# 2b. Or a session that also compares the live face with a reference image (verifyImage: base64).
mutation StartLivenessWithVerifySession($verifyInput: StartLivenessWithVerifySessionInput!) {
  startLivenessWithVerifySession(input: $verifyInput) {
    authToken
    session { id kind status expiresAt verifyReference { qualityForRecognition faceRectangle { top left width height } } }
  }
}

# 3. Listen for the decision (run it in a second tab: it waits for the session's one decision).
subscription SessionDecision($id: ID!) {
  sessionDecision(sessionId: $id) {
    sessionId verdict livenessDecision verifyResult { isIdentical matchConfidence } attemptId decidedAt
    session { id status }
  }
}

# 4. The device is done (play it against the emulator first, see docs/api.md): the gateway polls Face.
# "digest" is the one the Face SDK returned on the device; if it differs from Face's, the verdict is FAIL.
mutation CompleteLivenessSession($id: ID!, $digest: String) {
  completeLivenessSession(id: $id, digest: $digest) { id status }
}

# 5. The session, its attempts, its decision and its audit trail.
query Session($id: ID!, $first: Int) {
  session(id: $id) {
    id kind status userId tenant createdAt expiresAt modelVersion
    attempts { attemptId status livenessDecision verifyResult { isIdentical matchConfidence } digest error { code message } }
    decision { verdict livenessDecision attemptId decidedAt }
    auditTrail(first: $first) { totalCount edges { node { sequence action actor verdict hash } } }
    evidence { images { attemptId contentType byteLength expiresAt } imagesPending faceSessionDeleted }
  }
}

# 5b. An auditor's one-time link to the attempt's session image (started with enableSessionImage): open
# <gateway>/evidence/… once, within a minute; the view is audited as EVIDENCE_VIEWED.
mutation CreateEvidenceImageLink($id: ID!, $attemptId: Int!) {
  createEvidenceImageLink(sessionId: $id, attemptId: $attemptId) { url expiresAt }
}

# Sessions, newest first: a user's own, an auditor's tenant's, an admin's all.
query Sessions($sessionFilter: SessionFilter, $first: Int, $after: String) {
  sessions(filter: $sessionFilter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind status createdAt decision { verdict } } }
  }
}

# Audit history of the caller's tenant (auditor or admin), and a check of its hash chain.
query AuditHistory($auditFilter: AuditFilter, $first: Int, $after: String) {
  auditHistory(filter: $auditFilter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { sequence at action actor sessionId attemptId verdict digest hash previousHash } }
  }
}

query VerifyAuditChain($tenant: String) {
  verifyAuditChain(tenant: $tenant) { tenant valid checked firstBrokenSequence reason latestCheckpoint { sequence hash at signature } }
}

# The public key that verifies the chain's signed checkpoints: keep checkpoints outside the database (docs/audit.md).
query AuditCheckpointKey {
  auditCheckpointKey
}

# The live audit feed (run it in a second tab): the chain's stored events after afterSequence, then each new one.
subscription AuditEvents($afterSequence: Int) {
  auditEvents(afterSequence: $afterSequence) { sequence at action actor sessionId verdict hash previousHash }
}

# Revoke the session at Face: the device token stops working; an undecided session is decided EXPIRED.
mutation DeleteLivenessSession($id: ID!) {
  deleteLivenessSession(id: $id) { id status decision { verdict } }
}

# Admin only (the dev token is not an admin's: FORBIDDEN): a new derived device correlation id for a user.
mutation RotateDeviceCorrelationId($userTenant: String!, $userId: String!) {
  rotateDeviceCorrelationId(tenant: $userTenant, userId: $userId) { tenant userId generation rotatedAt }
}

# Webhook endpoints of the tenant: auditors read them and their delivery log (docs/partners.md).
query WebhookEndpoints($tenant: String) {
  webhookEndpoints(tenant: $tenant) { id url eventTypes enabled failing consecutiveFailures }
}

# One endpoint and its deliveries: paste an endpoint's id into "endpointId" (NOT_FOUND until then).
query WebhookEndpoint($endpointId: ID!, $first: Int) {
  webhookEndpoint(id: $endpointId) {
    id url failing
    deliveries(first: $first) { totalCount edges { node { id eventType status attemptCount lastStatusCode nextAttemptAt } } }
  }
}

# Admin only (the dev token is not an admin's: FORBIDDEN). The signing secret is in the answer, once.
mutation CreateWebhookEndpoint($webhookInput: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $webhookInput) { secret endpoint { id url eventTypes enabled } }
}

mutation UpdateWebhookEndpoint($endpointId: ID!, $webhookUpdate: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(id: $endpointId, input: $webhookUpdate) { id enabled eventTypes }
}

mutation RotateWebhookSecret($endpointId: ID!, $overlapSeconds: Int) {
  rotateWebhookSecret(id: $endpointId, overlapSeconds: $overlapSeconds) { secret endpoint { id previousSecretExpiresAt } }
}

mutation RedeliverWebhook($deliveryId: ID!) {
  redeliverWebhook(deliveryId: $deliveryId) { id status nextAttemptAt }
}

mutation DeleteWebhookEndpoint($endpointId: ID!) {
  deleteWebhookEndpoint(id: $endpointId)
}

# The tenant's policy: its overrides and the rules in force (auditors read their own tenant's; docs/policy.md).
query TenantPolicy($userTenant: String!) {
  tenantPolicy(tenant: $userTenant) {
    tenant updatedAt updatedBy
    overrides { allowedOperationModes maxAttempts requireDeviceDigest }
    effective { allowedOperationModes defaultTokenLifetimeSeconds minTokenLifetimeSeconds maxTokenLifetimeSeconds verifyConfidenceThreshold maxAttempts requireDeviceDigest sessionImagesAllowed evidenceRetentionDays userStarts { limit windowMillis } deviceStarts { limit windowMillis } }
  }
}

# Admin only (the dev token is not an admin's: FORBIDDEN). Replaces the whole policy; audited as TENANT_POLICY_CHANGED.
mutation SetTenantPolicy($userTenant: String!, $policyInput: TenantPolicyInput!) {
  setTenantPolicy(tenant: $userTenant, input: $policyInput) { tenant effective { allowedOperationModes maxAttempts } }
}

mutation ClearTenantPolicy($userTenant: String!) {
  clearTenantPolicy(tenant: $userTenant) { tenant updatedAt }
}

# Admin only (the dev token is not an admin's: FORBIDDEN). Erases the user's personal data; the chain stays valid (docs/security.md).
mutation EraseUserData($userTenant: String!, $userId: String!) {
  eraseUserData(tenant: $userTenant, userId: $userId) { tenant sessions evidenceDeleted eventsRewritten eventsKept pseudonym erasedAt }
}
`;

/** The Variables panel: a value for every variable of the document above. */
export const landingPageVariables = {
  id: SESSION_ID_PLACEHOLDER,
  livenessInput: { operationMode: 'PASSIVE', authTokenTimeToLiveSeconds: 600, enableSessionImage: true },
  attemptId: 1,
  verifyInput: { verifyImage: PNG_1X1, verifyConfidenceThreshold: 0.6, authTokenTimeToLiveSeconds: 600 },
  first: 20,
  after: null,
  sessionFilter: { kind: 'LIVENESS' },
  auditFilter: { actions: ['SESSION_STARTED', 'DECISION_REACHED'] },
  tenant: null,
  afterSequence: 0,
  digest: null,
  userTenant: 'default',
  userId: 'dev-user',
  endpointId: ENDPOINT_ID_PLACEHOLDER,
  webhookInput: { url: 'https://partner.example/webhooks/liveness', eventTypes: ['SESSION_DECIDED', 'SESSION_EXPIRED'] },
  webhookUpdate: { enabled: false },
  overlapSeconds: 3600,
  deliveryId: DELIVERY_ID_PLACEHOLDER,
  policyInput: { allowedOperationModes: ['PASSIVE'], maxAttempts: 2 },
};

/** What Apollo's page shows when its script cannot load from Apollo's CDN (offline, or blocked). */
export const SANDBOX_OFFLINE_TEXT = '<p>Apollo Sandbox cannot be loaded; it appears that you might be offline.</p>';

/** The full-page box Sandbox's iframe goes into; Apollo's style lays it over the offline text. */
const SANDBOX_BOX_STYLE = '#embeddableSandbox {';

/**
 * Sandbox is a script from Apollo's CDN; offline, Apollo's page says only that. This points the
 * reader at what works without the internet: the web client at /demo, when it is served. Apollo's
 * empty Sandbox box covers the page and would swallow the click on that link, so while it stays
 * empty (no iframe came) it lets clicks through; its style goes into Apollo's own nonce'd block.
 */
export function withOfflinePointer(html: string, webClient: boolean): string {
  const pointer = webClient
    ? '<p id="offline-pointer">Without the internet, use the web client at <a href="/demo">/demo</a>: it runs a whole flow from files this gateway serves.</p>'
    : '<p id="offline-pointer">Sandbox needs the internet: it loads from Apollo’s CDN.</p>';
  return html
    .replace(SANDBOX_OFFLINE_TEXT, `${SANDBOX_OFFLINE_TEXT}\n  ${pointer}`)
    .replace(SANDBOX_BOX_STYLE, `#embeddableSandbox:empty { pointer-events: none; }\n  ${SANDBOX_BOX_STYLE}`);
}
