import { describe, expect, it } from 'vitest';
import { markEdit } from '../src/api/instances';

describe('markEdit', () => {
  it('names the submission on the root and the editor in meta', () => {
    const xml = '<data xmlns:jr="http://openrosa.org/javarosa" id="f" version="1"><a>1</a><meta><instanceID>uuid:x</instanceID></meta></data>';
    const out = markEdit(xml, 42, 7);
    const doc = new DOMParser().parseFromString(out, 'application/xml');
    expect(doc.documentElement.getAttribute('iasoInstance')).toBe('42');
    expect(doc.documentElement.getAttribute('id')).toBe('f');
    expect(doc.getElementsByTagName('editUserID')[0]?.textContent).toBe('7');
    expect(doc.getElementsByTagName('instanceID')[0]?.textContent).toBe('uuid:x');
  });
  it('replaces an earlier editor and adds meta when missing, in the root namespace', () => {
    const again = markEdit(markEdit('<data id="f"><meta><editUserID>1</editUserID></meta></data>', 3, 9), 3, 9);
    expect(again.match(/editUserID/g)?.length).toBe(2);
    expect(again).toContain('<editUserID>9</editUserID>');
    const ns = markEdit('<data xmlns="http://www.w3.org/2002/xforms" id="f"><a>1</a></data>', 5, 2);
    const doc = new DOMParser().parseFromString(ns, 'application/xml');
    const meta = doc.documentElement.getElementsByTagNameNS('http://www.w3.org/2002/xforms', 'meta')[0];
    expect(meta?.textContent).toBe('2');
  });
  it('refuses what is not XML', () => {
    expect(() => markEdit('<data', 1, 1)).toThrow();
  });
});
