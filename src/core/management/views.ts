/**
 * Small pieces every management response shares, as Quay renders them: avatar blocks
 * (avatars/avatars.py with Quay's default AVATAR_COLORS) and RFC 2822 dates
 * (endpoints/api format_date).
 */
import { md5Hex } from "./md5.js";

/** Quay's default AVATAR_COLORS (config.py). */
const AVATAR_COLORS = [
  "#969696", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
  "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
  "#bcbd22", "#1f77b4", "#17becf", "#9edae5", "#393b79", "#5254a3", "#6b6ecf", "#9c9ede",
  "#9ecae1", "#31a354", "#b5cf6b", "#a1d99b", "#8c6d31", "#ad494a", "#e7ba52", "#a55194",
]; // prettier-ignore
/** ceil(log16(colour count)): how many hex digits of the hash pick the colour. */
const COLOR_DIGITS = Math.ceil(Math.log(AVATAR_COLORS.length) / Math.log(16));

export type AvatarKind = "user" | "robot" | "org" | "team";

export interface Avatar {
  name: string;
  hash: string;
  color: string;
  kind: AvatarKind;
}

/** Quay's `get_data(name, email_or_id, kind)`: MD5 of the trimmed, lowercased e-mail (or name). */
export function avatar(name: string, emailOrId: string | null, kind: AvatarKind): Avatar {
  // Not a security use (FIPS): an avatar's public colour/identicon key, Quay's exact value; hence the JS MD5.
  const hash = md5Hex((emailOrId || name).trim().toLowerCase());
  const color = AVATAR_COLORS[parseInt(hash.slice(0, COLOR_DIGITS), 16) % AVATAR_COLORS.length]!;
  return { name, hash, color, kind };
}

/** Avatar of a user or robot row (Quay's `get_data_for_user`; organizations render as "user" here too). */
export function userAvatar(row: { username: string; email: string; robot: boolean }): Avatar {
  return avatar(row.username, row.email, row.robot ? "robot" : "user");
}

/** Avatar of a team (Quay's `get_data_for_team`: the name stands in for the e-mail). */
export function teamAvatar(name: string): Avatar {
  return avatar(name, name, "team");
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

/** Python's `email.utils.formatdate(ts)`: `Wed, 02 Oct 2002 13:00:00 -0000`; null stays null. */
export function formatDate(date: Date | null): string | null {
  if (date === null) return null;
  return (
    `${DAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} -0000`
  );
}
