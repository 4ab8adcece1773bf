/**
 * Every schema revision Pier knows, oldest first. Later Pier revisions are appended here;
 * each runs on top of the previous one's stamp.
 */
import type { Migration } from "./migration.js";
import { quayBaseline } from "./quay/index.js";

export const MIGRATIONS: readonly Migration[] = [quayBaseline];
