// Marks search matches inside text, as text nodes and <mark> elements.

/** highlight marks the occurrences of q in text (as text nodes, never HTML). */
export function highlight(text: string, q: string) {
  const needle = q.trim().toLowerCase();
  if (!needle) return text;
  const lower = text.toLowerCase();
  const parts = [];
  let at = 0;
  for (let i = lower.indexOf(needle); i >= 0 && parts.length < 20; i = lower.indexOf(needle, at)) {
    if (i > at) parts.push(text.slice(at, i));
    parts.push(<mark>{text.slice(i, i + needle.length)}</mark>);
    at = i + needle.length;
  }
  if (at === 0) return text;
  parts.push(text.slice(at));
  return parts;
}
