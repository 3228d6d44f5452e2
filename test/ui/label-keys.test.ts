// The labelling page's keys: one-character class names are their own keys (classes 0–9: 7 labels
// "7"); otherwise 1–9 then 0 pick the first ten classes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classKeys } from '../../src/ui/label-keys.js';

describe('classKeys', () => {
  it('digit classes 0–9: each key is the class name', () => {
    const digits = Array.from({ length: 10 }, (_, i) => String(i));
    const keys = classKeys(digits);
    assert.deepEqual(keys, digits);
    assert.equal(digits[keys.indexOf('7')], '7');
  });

  it('one-letter classes (any case, beyond the BMP too) are their own keys', () => {
    assert.deepEqual(classKeys(['a', 'B', 'é', '𝔸']), ['a', 'B', 'é', '𝔸']);
  });

  it('longer names: 1–9 then 0 pick the first ten classes in order, the rest have no key', () => {
    const names = Array.from({ length: 12 }, (_, i) => `c${i}`);
    assert.deepEqual(classKeys(names), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', null, null]);
    // One longer name is enough: digits 0–9 plus "10" cannot all be keys.
    const eleven = [...Array.from({ length: 10 }, (_, i) => String(i)), '10'];
    assert.deepEqual(classKeys(eleven).slice(0, 3), ['1', '2', '3']);
    assert.deepEqual(classKeys(['cat', 'dog']), ['1', '2']);
  });
});
