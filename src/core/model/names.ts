/**
 * Repository names and references as Quay accepts them (util/names.py, with
 * FEATURE_EXTENDED_REPOSITORY_NAMES): `namespace/repo[/more]`.
 */
const NAMESPACE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const REPOSITORY = /^(?=.{0,255}$)[a-z0-9][.a-z0-9_-]*(?:\/[a-z0-9][.a-z0-9_-]*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
/** The OCI distribution spec's `<name>` grammar; stricter than Quay's on where separators go. */
const DISTRIBUTION_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

export interface RepositoryName {
  namespace: string;
  repository: string;
  /** `namespace/repository` */
  full: string;
}

/**
 * Splits `ns/repo` at the first slash. A single component maps to `library/<name>`
 * (Quay's FEATURE_LIBRARY_SUPPORT); null when either part is invalid.
 */
export function parseRepositoryName(path: string, libraryNamespace = "library"): RepositoryName | null {
  const slash = path.indexOf("/");
  const namespace = slash === -1 ? libraryNamespace : path.slice(0, slash);
  const repository = slash === -1 ? path : path.slice(slash + 1);
  if (namespace.length < 2 || namespace.length > 255 || !NAMESPACE.test(namespace)) return null;
  if (!REPOSITORY.test(repository) || repository.length === 0) return null;
  return { namespace, repository, full: `${namespace}/${repository}` };
}

/**
 * A `/v2/<name>/…` path name: the spec's grammar and Quay's rules (library mapping,
 * lengths); null otherwise. Clients cannot address names outside the spec's grammar.
 */
export function parseDistributionName(path: string, libraryNamespace = "library"): RepositoryName | null {
  return DISTRIBUTION_NAME.test(path) ? parseRepositoryName(path, libraryNamespace) : null;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
