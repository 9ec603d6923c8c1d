/**
 * The top-level keys of a JSON object text whose value is a number not written as plain digits
 * (`1e3`, `5.0`, `-0.5`). JSON.parse turns `1e3` into 1000, an integer, so the rule that counts and
 * seconds are written as integers (docs/decisions.md) can only be checked on the text. Strings are
 * skipped with their escapes; nested values are not looked at (no body of ours nests numbers).
 */
export function nonIntegerLiterals(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let key: string | null = null;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          key = null;
        }
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1 && c === '{') expectKey = true;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
    else if (depth === 1 && (c === '-' || (c >= '0' && c <= '9'))) {
      let j = i;
      while (j < text.length && /[-+0-9.eE]/.test(text[j])) j++;
      if (key !== null && /[.eE]/.test(text.slice(i, j))) out.push(key);
      i = j - 1;
    }
  }
  return out;
}
