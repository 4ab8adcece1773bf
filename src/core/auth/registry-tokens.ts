/**
 * Quay's registry bearer tokens (util/security/registry_jwt.py): RS256 JWTs with a
 * `kid`, issuer `quay`, the audience the client named, a one-hour life, and an `access`
 * list of repository grants. Any approved, unexpired key in `servicekey` verifies, so
 * tokens minted by a Quay sharing the database work here and the other way round.
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import { hasControlCharacter } from "../model/text.js";
import type { Clock } from "../ports/clock.js";
import type { Keys, SigningKey } from "../ports/keys.js";
import type { Action, Caller } from "./access.js";
import { repositoryOfAccessName } from "./scopes.js";

/** Quay's INSTANCE_SERVICE_KEY_SERVICE: the issuer of every registry token. */
export const TOKEN_ISSUER = "quay";
/** Quay's TOKEN_VALIDITY_LIFETIME_S. */
export const TOKEN_LIFETIME_SECONDS = 3600;
/** Quay's REGISTRY_JWT_AUTH_MAX_FRESH_S: the longest life a token may claim. */
const MAX_FRESH_SECONDS = 3660;
const LEEWAY_SECONDS = 30;
export const ANONYMOUS_SUBJECT = "(anonymous)";

export interface AccessEntry {
  type: "repository";
  name: string;
  actions: Action[];
}

export interface TokenRequest {
  audience: string;
  subject: string;
  access: AccessEntry[];
  context: Record<string, unknown>;
}

export async function issueRegistryToken(key: SigningKey, clock: Clock, request: TokenRequest): Promise<string> {
  const now = Math.floor(clock.now() / 1000);
  return new SignJWT({ access: request.access, context: request.context })
    .setProtectedHeader({ alg: key.alg, typ: "JWT", kid: key.kid })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(request.audience)
    .setSubject(request.subject)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
    .sign(key.privateKey);
}

/** Why a presented bearer token was refused; the message goes back to the client. */
export class InvalidTokenError extends Error {
  override name = "InvalidTokenError";
}

export interface VerifyOptions {
  keys: Keys;
  clock: Clock;
  /** SERVER_HOSTNAME: the only audience accepted, and the host prefix access names may carry. */
  audience: string;
  libraryNamespace: string;
}

const BEARER = /^Bearer (([a-zA-Z0-9+\-_/]+\.)+[a-zA-Z0-9+\-_/]+)$/;
/** servicekey.kid is a varchar(255). */
const MAX_KID_LENGTH = 255;
const ACTIONS: ReadonlySet<string> = new Set(["pull", "push", "*"]);

/** The caller an `Authorization: Bearer …` header proves; InvalidTokenError for any flaw. */
export async function verifyBearer(header: string, options: VerifyOptions): Promise<Caller> {
  const token = BEARER.exec(header)?.[1];
  if (!token) throw new InvalidTokenError("Invalid bearer token format");
  let kid: string | undefined;
  try {
    const protectedHeader = decodeProtectedHeader(token);
    if (protectedHeader.alg !== "RS256") throw new InvalidTokenError("Invalid token algorithm");
    kid = protectedHeader.kid;
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    throw new InvalidTokenError("Invalid token header");
  }
  if (!kid) throw new InvalidTokenError("Token is missing the kid header");
  if (typeof kid !== "string" || kid.length > MAX_KID_LENGTH || hasControlCharacter(kid)) throw new InvalidTokenError("Invalid kid header");
  const key = await options.keys.verification(kid);
  if (key === null) throw new InvalidTokenError(`Unknown signing key ${kid}`);

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["RS256"],
      issuer: TOKEN_ISSUER,
      audience: options.audience,
      clockTolerance: LEEWAY_SECONDS,
      currentDate: new Date(options.clock.now()),
      requiredClaims: ["nbf", "iat", "exp", "sub"],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new InvalidTokenError("Token has expired");
    if (error instanceof joseErrors.JWTClaimValidationFailed) throw new InvalidTokenError(`Invalid token: ${error.message}`);
    throw new InvalidTokenError("Invalid token signature");
  }
  const now = options.clock.now() / 1000;
  if (payload.iat! > now + LEEWAY_SECONDS) throw new InvalidTokenError("Token was issued in the future");
  if (payload.exp! - payload.iat! > MAX_FRESH_SECONDS) throw new InvalidTokenError("Token lives longer than allowed");
  return callerOf(payload, options);
}

function callerOf(payload: JWTPayload, options: VerifyOptions): Caller {
  const grants = new Map<string, Set<Action>>();
  const access = payload.access;
  if (access !== undefined && !Array.isArray(access)) throw new InvalidTokenError("Invalid access claim");
  for (const entry of (access ?? []) as unknown[]) {
    const { type, name, actions } = (entry ?? {}) as { type?: unknown; name?: unknown; actions?: unknown };
    if (type !== "repository" || typeof name !== "string" || !Array.isArray(actions)) continue;
    const repository = repositoryOfAccessName(name, options.audience, options.libraryNamespace);
    if (repository === null) continue;
    const granted = grants.get(repository.full) ?? new Set<Action>();
    for (const action of actions) if (typeof action === "string" && ACTIONS.has(action)) granted.add(action as Action);
    if (granted.size > 0) grants.set(repository.full, granted);
  }
  const subject = payload.sub === ANONYMOUS_SUBJECT ? null : payload.sub!;
  return { subject, grants, viaToken: true };
}
