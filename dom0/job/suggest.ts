// "Did you mean …?": finds the known name closest to a misspelt one (edit distance after
// normalising case, '_' and US spellings), so messages can say what to write instead.

/** Keys people write for "exclude", which the job file spells as two designations. */
const EXCLUDE_WORDS = new Set(['exclude', 'excludes', 'exclude-groups', 'exclude-group', 'excluded-groups', 'excluded']);

/** The candidate closest to `written`, or null when none is close enough to be a likely typo. */
export function closest(written: string, candidates: readonly string[]): string | null {
  const w = normalise(written);
  if (w.length === 0 || w.length > 64) return null;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const n = normalise(c);
    if (n === w) return c;
    const d = distance(w, n);
    const allowed = n.length >= 8 ? 2 : 1;
    const prefix = w.length >= 4 && n.startsWith(w) && n.length - w.length <= 7;
    if ((d <= allowed || prefix) && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** A hint for a key meaning "exclude", which does not exist: the user must pick forgo or void. */
export function excludeHint(written: string): string | null {
  if (!EXCLUDE_WORDS.has(normalise(written))) return null;
  return 'To leave groups out of the backup, list them under `forgo-groups` (declined; the usual choice) or `void-groups` (hard-excluded, e.g. a child of an included dataset).';
}

/** Lower case, '_' / spaces / '.' as '-', UK spellings ("behaviour", "honour"), no trailing '-'. */
export function normalise(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\s_.]+/g, '-')
    .replace(/behavior/g, 'behaviour')
    .replace(/honor(?!u)/g, 'honour')
    .replace(/^-+|-+$/g, '');
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions, "reciever").
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 4;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
