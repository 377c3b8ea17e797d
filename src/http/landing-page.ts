/** The operations Apollo Sandbox opens with (outside production): one of each, ready to run. */
export const landingPageDocument = `# 1. Who am I? (the Authorization header holds a dev token)
query Viewer {
  viewer { userId tenant roles }
}

# 2. Start a liveness session: hand authToken to the device's Face SDK.
mutation StartLivenessSession {
  startLivenessSession(input: { operationMode: PASSIVE, authTokenTimeToLiveSeconds: 600 }) {
    authToken
    session { id status expiresAt }
  }
}

# 3. Listen for the decision (open a second tab for this one).
subscription SessionDecision($sessionId: ID!) {
  sessionDecision(sessionId: $sessionId) {
    verdict livenessDecision verifyResult { isIdentical matchConfidence } decidedAt
  }
}

# 4. The device is done (play it against the emulator first, see the README): poll for the result.
mutation CompleteLivenessSession($id: ID!) {
  completeLivenessSession(id: $id) { id status }
}

query Session($id: ID!) {
  session(id: $id) {
    id kind status userId tenant createdAt expiresAt
    attempts { attemptId status livenessDecision digest error { code message } }
    decision { verdict decidedAt }
    auditTrail(first: 20) { edges { node { sequence action actor verdict hash } } }
  }
}

query Sessions {
  sessions(first: 20) { totalCount edges { node { id kind status createdAt } } pageInfo { hasNextPage endCursor } }
}

mutation DeleteLivenessSession($id: ID!) {
  deleteLivenessSession(id: $id) { id status }
}

query AuditHistory {
  auditHistory(first: 20) { totalCount edges { node { sequence at action actor sessionId verdict hash } } }
}

query VerifyAuditChain {
  verifyAuditChain { tenant valid checked firstBrokenSequence }
}
`;
