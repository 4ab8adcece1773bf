/**
 * Quay's lookup ("enum") tables: `id` + `name`, resolved by name through cached maps.
 * Most carry a unique `<table>_name` index; `teamrole` and `userpromptkind` only a plain
 * one, and `quotatype` none at all — exactly as Quay's migrations created them.
 */

/** [table, index on name: "unique" | "plain"], in the order Quay's migrations created them. */
const NAMED_LOOKUPS: readonly (readonly [string, "unique" | "plain"])[] = [
  ["accesstokenkind", "unique"],
  ["buildtriggerservice", "unique"],
  ["externalnotificationevent", "unique"],
  ["externalnotificationmethod", "unique"],
  ["imagestoragelocation", "unique"],
  ["imagestoragesignaturekind", "unique"],
  ["imagestoragetransformation", "unique"],
  ["logentrykind", "unique"],
  ["loginservice", "unique"],
  ["mediatype", "unique"],
  ["notificationkind", "unique"],
  ["quayregion", "unique"],
  ["quayservice", "unique"],
  ["role", "unique"],
  ["teamrole", "plain"],
  ["visibility", "unique"],
  ["userpromptkind", "plain"],
  ["repositorykind", "unique"],
  ["disablereason", "unique"],
  ["apprblobplacementlocation", "unique"],
  ["apprtagkind", "unique"],
  ["tagkind", "unique"],
];

function namedLookup(table: string, index: "unique" | "plain"): string[] {
  return [
    `CREATE TABLE ${table} (
      id SERIAL NOT NULL,
      name VARCHAR(255) NOT NULL,
      CONSTRAINT pk_${table} PRIMARY KEY (id)
    )`,
    `CREATE ${index === "unique" ? "UNIQUE " : ""}INDEX ${table}_name ON ${table} (name)`,
  ];
}

/** DDL of every lookup table. */
export const LOOKUP_TABLES: readonly string[] = [
  ...NAMED_LOOKUPS.flatMap(([table, index]) => namedLookup(table, index)),
  `CREATE TABLE labelsourcetype (
    id SERIAL NOT NULL,
    name VARCHAR(255) NOT NULL,
    mutable BOOLEAN NOT NULL,
    CONSTRAINT pk_labelsourcetype PRIMARY KEY (id)
  )`,
  `CREATE UNIQUE INDEX labelsourcetype_name ON labelsourcetype (name)`,
  `CREATE TABLE quotatype (
    id SERIAL NOT NULL,
    name VARCHAR(255) NOT NULL,
    CONSTRAINT pk_quotatype PRIMARY KEY (id)
  )`,
];
