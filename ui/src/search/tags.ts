// Tag filters are typed as logfmt-like text: `key=value key2="a value"`.

export interface Tag {
  key: string;
  value: string;
}

/** parseTags splits the text into key=value pairs; values may be "quoted". */
export function parseTags(text: string): { tags: Tag[]; error?: string } {
  const tags: Tag[] = [];
  let i = 0;
  const s = text;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) break;
    const eq = s.indexOf("=", i);
    const ws = s.slice(i).search(/\s/);
    if (eq < 0 || (ws >= 0 && i + ws < eq)) {
      const bad = ws >= 0 ? s.slice(i, i + ws) : s.slice(i);
      return { tags, error: `"${bad}" is not key=value` };
    }
    const key = s.slice(i, eq);
    if (!key) return { tags, error: "a tag has an empty key" };
    i = eq + 1;
    let value = "";
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        value += s[i++];
      }
      if (i >= s.length) return { tags, error: `unterminated quote in the value of ${key}` };
      i++;
    } else {
      while (i < s.length && !/\s/.test(s[i])) value += s[i++];
    }
    tags.push({ key, value });
  }
  return { tags };
}

/** formatTags is the inverse of parseTags. */
export function formatTags(tags: Tag[]): string {
  return tags
    .map(({ key, value }) =>
      /[\s"]/.test(value) || value === "" ? `${key}="${value.replace(/["\\]/g, "\\$&")}"` : `${key}=${value}`,
    )
    .join(" ");
}
