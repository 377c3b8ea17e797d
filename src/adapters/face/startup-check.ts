/**
 * One Face call at start, so that a gateway pointed at the wrong place, or holding a key Face refuses,
 * says so when it starts rather than in the first user's error. Some causes cannot heal by waiting (a
 * refused credential, an endpoint with no Face API, a host name that does not resolve, no Entra ID
 * token): those are `definite`, and a production gateway refuses to start on them. The rest (Face slow
 * or failing, nothing listening yet) may pass, so they only warn.
 */
import { FaceRequestError, FaceUnavailableError, type FacePort, isNoFaceRoute } from '../../domain/ports/face.port';
import { FaceCallBudgetError } from './call-scheduler';

export interface FaceStartupProblem {
  /** Will not heal by itself: the configuration must change. */
  definite: boolean;
  /** One sentence naming the cause and the setting to check; never the key. */
  message: string;
}

export async function checkFaceAtStart(face: FacePort, timeoutMillis: number): Promise<FaceStartupProblem | undefined> {
  try {
    await face.ping({ signal: AbortSignal.timeout(timeoutMillis) });
    return undefined;
  } catch (error) {
    if (error instanceof FaceCallBudgetError) {
      return { definite: false, message: `Face did not answer the start-up check within ${timeoutMillis} ms; /readyz says when it does.` };
    }
    if (error instanceof FaceRequestError) {
      const credentials = error.httpStatus === 401 || error.httpStatus === 403;
      if (credentials) return { definite: true, message: `Face refused the gateway's credentials (${error.httpStatus} ${error.upstreamCode}): check FACE_APIKEY, or the Entra ID role assignment.` };
      if (isNoFaceRoute(error.httpStatus, error.upstreamCode)) {
        return { definite: true, message: `FACE_ENDPOINT answered 404 under /face/v1.2: it is no Face resource (give the resource's base URL, e.g. https://<name>.cognitiveservices.azure.com, without a path).` };
      }
      return { definite: false, message: error.message };
    }
    if (error instanceof FaceUnavailableError) {
      if (error.reason === 'FACE_UNREACHABLE') {
        const definite = error.networkCode === 'ENOTFOUND';
        const why = definite ? 'its host name does not resolve' : error.networkCode === 'ECONNREFUSED' ? 'nothing listens there' : (error.networkCode ?? 'no connection');
        return { definite, message: `The gateway could not connect to FACE_ENDPOINT: ${why}.` };
      }
      if (error.reason === 'FACE_CREDENTIAL_UNAVAILABLE') return { definite: true, message: `${error.message} Set FACE_APIKEY, or configure the Azure identity (docs/operations.md).` };
      return { definite: false, message: error.message };
    }
    return { definite: false, message: `The start-up check of Face failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}
