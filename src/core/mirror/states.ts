/**
 * Quay's repository-mirror enums (data/database.py RepoMirrorStatus, RepoMirrorType),
 * stored as raw integers and named in the REST API.
 */
export const MirrorStatus = {
  CANCEL: -2,
  FAIL: -1,
  NEVER_RUN: 0,
  SUCCESS: 1,
  SYNCING: 2,
  SYNC_NOW: 3,
} as const;

export type MirrorStatusName = keyof typeof MirrorStatus;

/** The API's name of a stored status (unknown values as their number). */
export function statusName(value: number): string {
  const entry = Object.entries(MirrorStatus).find(([, v]) => v === value);
  return entry ? entry[0] : String(value);
}

/** Quay's RepositoryState values. */
export const RepositoryState = { NORMAL: 0, READ_ONLY: 1, MIRROR: 2, MARKED_FOR_DELETION: 3, ORG_MIRROR: 4 } as const;

/** Quay's retries after a success or a run out of retries. */
export const MAX_RETRIES = 3;
