/**
 * The class-folder layout of an image archive: `<class>/<image>`, optionally wrapped in one common folder
 * (what zipping a dataset folder produces). The folder names become the classes.
 */
import { TooLarge, Unprocessable } from '../errors.js';
import type { ArchiveEntry } from './archive.js';

/** File extensions read as images, compared case-insensitively. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

/** One labelled image: its path as listed in the archive and the index of its class. */
export interface LabelledItem {
  path: string;
  label: number;
}

const MAX_CLASS_NAME = 100;
const MAX_LISTED = 5;
const EXAMPLE = 'cat/001.png, dog/001.png';

/** Labels each image by its class folder; classes are sorted by code point, so labels do not depend on locale. */
export function classFolders(entries: ArchiveEntry[], opts: { maxClasses: number }): { classes: string[]; items: LabelledItem[] } {
  if (entries.length === 0) {
    throw new Unprocessable(`The archive holds no files. Put each class's images in a folder named for the class (${EXAMPLE}).`, {
      field: 'file',
      type: 'empty-archive',
    });
  }
  const split = entries.map((e) => ({ path: e.path, segments: e.path.split('/') }));
  const [root] = split[0].segments;
  // Strip a wrapper only when everything sits inside it and something is deep enough to be a class folder beneath it.
  const wrapped = split.every((e) => e.segments[0] === root && e.segments.length >= 2) && split.some((e) => e.segments.length >= 3);
  const rel = wrapped ? split.map((e) => ({ path: e.path, segments: e.segments.slice(1) })) : split;

  const top = wrapped ? `directly in \`${root}/\`` : 'at the top level';
  rejectAny(
    rel.filter((e) => e.segments.length === 1),
    (n, list) =>
      `${n} file${n === 1 ? ' sits' : 's sit'} ${top} instead of inside a class folder (${list}). ` +
      `Put each image in a folder named for its class (${EXAMPLE}).`,
    'no-class-folders',
  );
  rejectAny(
    rel.filter((e) => e.segments.length > 2),
    (n, list) =>
      `${n} file${n === 1 ? ' is' : 's are'} nested deeper than <class>/<image> (${list}). ` +
      `Move images directly into their class folder (${EXAMPLE}); subfolders are not read.`,
    'nested-folders',
  );
  rejectAny(
    rel.filter((e) => !isImage(e.path)),
    (n, list) =>
      `${n} file${n === 1 ? ' is' : 's are'} not ${IMAGE_EXTENSIONS.join(', ')} images (${list}). ` +
      'Remove them or convert them to PNG or JPEG.',
    'non-image-files',
  );

  const classes = [...new Set(rel.map((e) => e.segments[0]))].sort(byCodePoint);
  const long = classes.find((c) => c.length > MAX_CLASS_NAME);
  if (long !== undefined) {
    throw new Unprocessable(`Class folder \`${long.slice(0, 40)}…\` has a name longer than ${MAX_CLASS_NAME} characters; shorten it.`, {
      field: 'file',
      type: 'class-name-too-long',
      extra: { class: long },
    });
  }
  if (classes.length === 1) {
    throw new Unprocessable(`The archive holds one class folder (\`${classes[0]}\`); at least two are needed.`, {
      field: 'file',
      type: 'one-class',
      extra: { classes },
    });
  }
  if (classes.length > opts.maxClasses) {
    throw new TooLarge(`The archive holds ${classes.length} class folders; at most ${opts.maxClasses} are allowed.`, {
      field: 'file',
      type: 'too-many-classes',
      extra: { limit: opts.maxClasses, actual: classes.length },
    });
  }

  const label = new Map(classes.map((c, i) => [c, i]));
  const items = rel
    .map((e) => ({ path: e.path, label: label.get(e.segments[0])! }))
    .sort((a, b) => byCodePoint(a.path, b.path));
  return { classes, items };
}

function rejectAny(found: { path: string }[], detail: (n: number, list: string) => string, type: string): void {
  if (found.length === 0) return;
  const names = found.slice(0, MAX_LISTED).map((e) => e.path);
  const list = names.map((n) => `\`${n}\``).join(', ') + (found.length > MAX_LISTED ? ', …' : '');
  throw new Unprocessable(detail(found.length, list), {
    field: 'file',
    type,
    extra: { count: found.length, files: names, ...(type === 'non-image-files' ? { accepted: IMAGE_EXTENSIONS } : {}) },
  });
}

function isImage(path: string): boolean {
  const lower = path.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

// A plain comparison of UTF-16 code units: the same order on every machine, unlike localeCompare.
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
