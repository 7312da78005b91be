import { describe, expect, it } from 'vitest';
import { classFolders } from '../../src/data/layout.js';
import { TooLarge, Unprocessable } from '../../src/errors.js';

const OPTS = { maxClasses: 10 };
const entries = (...paths: string[]) => paths.map((path) => ({ path, size: 1 }));

function thrown(fn: () => unknown): Error & { status?: number; type?: string; extra?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('class folders', () => {
  it('labels each image by its folder, classes sorted by name', () => {
    const { classes, items } = classFolders(entries('dog/1.png', 'cat/1.JPG', 'cat/2.jpeg', 'bird/a.png'), OPTS);
    expect(classes).toEqual(['bird', 'cat', 'dog']);
    expect(items).toEqual([
      { path: 'bird/a.png', label: 0 },
      { path: 'cat/1.JPG', label: 1 },
      { path: 'cat/2.jpeg', label: 1 },
      { path: 'dog/1.png', label: 2 },
    ]);
  });

  it('orders classes by code point, the same on every machine', () => {
    const { classes } = classFolders(entries('b/1.png', 'B/1.png', 'a/1.png', 'é/1.png', '10/1.png', '9/1.png'), OPTS);
    expect(classes).toEqual(['10', '9', 'B', 'a', 'b', 'é']);
  });

  it('gives the same labels whatever order the archive lists files in', () => {
    const forward = classFolders(entries('cat/1.png', 'dog/1.png', 'cat/2.png'), OPTS);
    const backward = classFolders(entries('cat/2.png', 'dog/1.png', 'cat/1.png'), OPTS);
    expect(backward).toEqual(forward);
  });

  it('strips one common top-level folder and keeps the paths as listed', () => {
    const { classes, items } = classFolders(entries('dataset/cat/1.png', 'dataset/dog/1.png'), OPTS);
    expect(classes).toEqual(['cat', 'dog']);
    expect(items.map((i) => i.path)).toEqual(['dataset/cat/1.png', 'dataset/dog/1.png']);
  });

  it('does not strip the folder of a single class', () => {
    const err = thrown(() => classFolders(entries('cat/1.png', 'cat/2.png'), OPTS));
    expect(err.type).toBe('one-class');
  });

  it('rejects an empty archive', () => {
    const err = thrown(() => classFolders([], OPTS));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.status).toBe(422);
    expect(err.type).toBe('empty-archive');
    expect(err.message).toContain('cat/001.png');
  });

  it('rejects one class, naming it and asking for two', () => {
    const err = thrown(() => classFolders(entries('dataset/cat/1.png', 'dataset/cat/2.png'), OPTS));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('one-class');
    expect(err.message).toContain('one class folder (`cat`); at least two are needed');
  });

  it('rejects files outside class folders, listing up to five', () => {
    const loose = ['a.png', 'b.png', 'c.png', 'd.png', 'e.png', 'f.png'];
    const err = thrown(() => classFolders(entries('cat/1.png', ...loose), OPTS));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('no-class-folders');
    expect(err.message).toContain('6 files sit at the top level');
    expect(err.message).toContain('`e.png`, …');
    expect(err.message).not.toContain('f.png');
    expect(err.extra).toMatchObject({ count: 6, files: loose.slice(0, 5) });
  });

  it('says which wrapper folder loose files sit in', () => {
    const err = thrown(() => classFolders(entries('dataset/readme.png', 'dataset/cat/1.png'), OPTS));
    expect(err.type).toBe('no-class-folders');
    expect(err.message).toContain('directly in `dataset/`');
  });

  it('rejects folders nested below the class folders', () => {
    const err = thrown(() => classFolders(entries('cat/1.png', 'dog/puppies/1.png'), OPTS));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('nested-folders');
    expect(err.message).toContain('`dog/puppies/1.png`');
  });

  it('rejects nesting even beneath a stripped common folder', () => {
    const err = thrown(() => classFolders(entries('data/cat/1.png', 'data/dog/x/1.png'), OPTS));
    expect(err.type).toBe('nested-folders');
  });

  it('rejects non-image files, naming them and the accepted extensions', () => {
    const err = thrown(() => classFolders(entries('cat/1.png', 'dog/1.gif', 'dog/notes.txt'), OPTS));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('non-image-files');
    expect(err.message).toContain('`dog/1.gif`, `dog/notes.txt`');
    expect(err.message).toContain('.png, .jpg, .jpeg');
    expect(err.extra).toMatchObject({ accepted: ['.png', '.jpg', '.jpeg'] });
  });

  it('rejects more classes than maxClasses with TooLarge', () => {
    const err = thrown(() => classFolders(entries('a/1.png', 'b/1.png', 'c/1.png'), { maxClasses: 2 }));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.status).toBe(413);
    expect(err.type).toBe('too-many-classes');
    expect(err.extra).toMatchObject({ limit: 2, actual: 3 });
  });

  it('rejects class names longer than 100 characters', () => {
    const long = 'x'.repeat(101);
    const err = thrown(() => classFolders(entries(`${long}/1.png`, 'b/1.png'), OPTS));
    expect(err.type).toBe('class-name-too-long');
    expect(classFolders(entries(`${'x'.repeat(100)}/1.png`, 'b/1.png'), OPTS).classes).toHaveLength(2);
  });
});
