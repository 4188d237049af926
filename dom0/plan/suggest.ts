// "Did you mean …?" for misspelt qube and dataset names: the closest known names by edit distance.

// Edit distance counting insertions, deletions, substitutions and adjacent transpositions (optimal
// string alignment); returns max + 1 as soon as the answer is known to exceed `max`.
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

// Up to three candidates within a small distance of `name` (case-insensitive), closest first.
export function closestNames(name: string, candidates: Iterable<string>): string[] {
  const key = name.toLowerCase();
  const max = Math.max(1, Math.min(3, Math.floor(key.length / 4)));
  const hits: { c: string; d: number }[] = [];
  for (const c of candidates) {
    const d = editDistance(key, c.toLowerCase(), max);
    if (d <= max) hits.push({ c, d });
  }
  hits.sort((x, y) => x.d - y.d || (x.c < y.c ? -1 : x.c > y.c ? 1 : 0));
  return hits.slice(0, 3).map((h) => h.c);
}

// " Did you mean a or b?" (with the leading space), or '' when nothing is close.
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closestNames(name, candidates);
  if (c.length === 0) return '';
  const list = c.length === 1 ? c[0]! : `${c.slice(0, -1).join(', ')} or ${c[c.length - 1]!}`;
  return ` Did you mean ${list}?`;
}
