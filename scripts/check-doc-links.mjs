// Checks that every relative link in README.md and docs/*.md names a file that exists and, with
// a #fragment, a heading of that file (GitHub's anchor rules). Exits 1 and lists the bad ones.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const withoutCode = (text) => text.replace(/^```[\s\S]*?^```/gm, '');

// GitHub lower-cases a heading, drops punctuation but keeps word characters, spaces and hyphens,
// then turns spaces into hyphens.
const slug = (heading) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
const anchors = (file) => new Set([...withoutCode(readFileSync(file, 'utf8')).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));

const bad = [];
let count = 0;
for (const file of files) {
  for (const [, target] of withoutCode(readFileSync(join(root, file), 'utf8')).matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
    count++;
    if (/^[a-z]+:/i.test(target)) continue;
    const [path, fragment] = target.split('#');
    const resolved = path ? normalize(join(root, dirname(file), path)) : join(root, file);
    if (!existsSync(resolved)) bad.push(`${file}: ${target} (no such file)`);
    else if (fragment && !anchors(resolved).has(fragment)) bad.push(`${file}: ${target} (no such heading)`);
  }
}
for (const line of bad) console.error(line);
console.log(`${count} links in ${files.length} files, ${bad.length} broken`);
process.exit(bad.length ? 1 : 0);
