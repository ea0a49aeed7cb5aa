/** How the pages write times, counts and kinds. */

const UNITS: [number, string][] = [
  [86_400, 'd'],
  [3_600, 'h'],
  [60, 'min'],
  [1, 's'],
];

/** "3 min ago": how long since `iso`, in its largest whole unit. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 5) return 'just now';
  for (const [size, unit] of UNITS) if (seconds >= size) return `${Math.floor(seconds / size)} ${unit} ago`;
  return 'just now';
}

/** The time itself, for a tooltip: local, to the second. */
export const when = (iso: string | null | undefined) =>
  iso === null || iso === undefined ? '' : new Date(iso).toLocaleString(undefined, { hour12: false });

export const count = (n: number | string) =>
  typeof n === 'number' ? n.toLocaleString('en') : BigInt(n).toLocaleString('en');
