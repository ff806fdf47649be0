/**
 * Edits the YAML group file in place for `ipmp VERB --persist`: adds or removes a group's
 * NICs and data addresses and sets a NIC's standby and test addresses.
 *
 *   editConfigText(text, edit) → the new text; throws EditError (a predicate about the file)
 *
 * The document is parsed with the `yaml` Document API to find the nodes, and each change is
 * spliced into the original text at the node's source range, so every byte the change does
 * not touch stays as the admin wrote it: comments, alignment, quoting, flow or block style.
 * (Document.toString() would re-render the whole file: it moves the comment after
 * `interfaces:` to a line of its own, drops alignment and respaces `[a]` as `[ a ]`.)
 * The text is parsed again after every splice, so each step sees true offsets.
 */
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Pair, YAMLMap, YAMLSeq } from 'yaml';
import { parsePrefix, prefixText } from './config-addr.js';
import type { IpPrefix } from './config-addr.js';
import type { InterfaceConfig } from './config-types.js';

export type ConfigEdit =
  | { op: 'add-ipmp'; group: string; interfaces: InterfaceConfig[] }
  | { op: 'remove-ipmp'; group: string; interfaces: string[] }
  | { op: 'create-addr' | 'delete-addr'; group: string; address: IpPrefix }
  | { op: 'set-ifprop'; group: string; prop: 'standby' | 'test-address'; interface: InterfaceConfig };

/** Why the file cannot take the change; reads after the file name ("/etc/ipmp/ipmp.yaml has ..."). */
export class EditError extends Error {}

type Props = Partial<Record<'standby' | 'test-address' | 'test-address6', string | null>>;
const PROP_KEYS = ['standby', 'test-address', 'test-address6'] as const;

// ---- text positions ----

const lineStart = (t: string, pos: number): number => t.lastIndexOf('\n', pos - 1) + 1;
const column = (t: string, pos: number): number => pos - lineStart(t, pos);
/** The start of the line after the one holding `pos` (or the end of the text). */
function lineEndAfter(t: string, pos: number): number {
  if (pos > 0 && t[pos - 1] === '\n') return pos;
  const i = t.indexOf('\n', pos);
  return i < 0 ? t.length : i + 1;
}
const splice = (t: string, s: number, e: number, ins: string): string => t.slice(0, s) + ins + t.slice(e);
const eolOf = (t: string): string => (t.includes('\r\n') ? '\r\n' : '\n');
/** Inserts whole lines at a line boundary `at`, ending the last line of the text first if needed. */
function insertLines(t: string, at: number, lines: string[]): string {
  const eol = eolOf(t);
  const lead = at === t.length && t.length > 0 && !t.endsWith('\n') ? eol : '';
  return splice(t, at, at, lead + lines.map((l) => l + eol).join(''));
}

const start = (n: YamlNode): number => n.range![0];
const end = (n: YamlNode): number => n.range![1];
const isNullNode = (n: unknown): boolean => n === null || n === undefined || (isScalar(n) && n.value === null);
const pairEnd = (p: Pair): number => (p.value && (p.value as YamlNode).range ? end(p.value as YamlNode) : end(p.key as YamlNode));

function parse(text: string): Document {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw new EditError(`does not parse as YAML (${doc.errors[0]!.message.split('\n')[0]})`);
  return doc;
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
}

// ---- primitive splices ----

/** Removes item i of a flow collection with its separating comma. */
function removeFlow(t: string, spans: Array<[number, number]>, i: number): string {
  if (spans.length === 1) return splice(t, spans[0]![0], spans[0]![1], '');
  if (i < spans.length - 1) return splice(t, spans[i]![0], spans[i + 1]![0], '');
  return splice(t, spans[i - 1]![1], spans[i]![1], '');
}

/** Appends to a flow collection: after its last item, or inside its empty brackets. */
function appendFlow(t: string, coll: YamlNode, lastEnd: number | null, entry: string): string {
  if (lastEnd !== null) return splice(t, lastEnd, lastEnd, `, ${entry}`);
  const open = start(coll) + 1;
  return splice(t, open, open, entry);
}

function removePair(t: string, map: YAMLMap, pair: Pair): string {
  if (map.flow) return removeFlow(t, map.items.map((p) => [start(p.key as YamlNode), pairEnd(p)]), map.items.indexOf(pair));
  return splice(t, lineStart(t, start(pair.key as YamlNode)), lineEndAfter(t, pairEnd(pair)), '');
}

/** Adds `key: value` (value '' for an empty one) at the end of a map; `seq` gives a list value. */
function addPair(t: string, map: YAMLMap, key: string, value: string, seq: string[] | null = null): string {
  if (map.flow) {
    const last = map.items.at(-1);
    const entry = seq ? `${key}: [${seq.join(', ')}]` : value ? `${key}: ${value}` : key;
    return appendFlow(t, map, last ? pairEnd(last) : null, entry);
  }
  const first = map.items[0];
  if (!first) throw new EditError(`has an empty mapping where ${key} would go`);
  const ind = ' '.repeat(column(t, start(first.key as YamlNode)));
  const lines = seq ? [`${ind}${key}:`, ...seq.map((s) => `${ind}  - ${s}`)] : [value ? `${ind}${key}: ${value}` : `${ind}${key}:`];
  return insertLines(t, lineEndAfter(t, end(map)), lines);
}

/** The position of the dash of a block list item. */
const dashOf = (t: string, item: YamlNode): number => t.lastIndexOf('-', start(item));

function addItem(t: string, seq: YAMLSeq, text: string): string {
  const items = seq.items as YamlNode[];
  const last = items.at(-1);
  if (seq.flow) return appendFlow(t, seq, last ? end(last) : null, text);
  if (!last) throw new EditError('has an empty list where an item would go');
  const dash = dashOf(t, last);
  return insertLines(t, lineEndAfter(t, end(last)), [`${t.slice(lineStart(t, dash), dash)}- ${text}`]);
}

function removeItem(t: string, seq: YAMLSeq, i: number): string {
  const items = seq.items as YamlNode[];
  if (seq.flow) return removeFlow(t, items.map((n) => [start(n), end(n)]), i);
  return splice(t, lineStart(t, dashOf(t, items[i]!)), lineEndAfter(t, end(items[i]!)), '');
}

/** Gives a pair whose value is empty or null a value written inline after its colon. */
function fillPair(t: string, pair: Pair, value: string): string {
  const v = pair.value as YamlNode | null;
  if (v && isScalar(v) && v.range && end(v) > start(v)) return splice(t, start(v), end(v), value);
  const keyEnd = end(pair.key as YamlNode);
  const m = /^[ \t]*:/.exec(t.slice(keyEnd));
  if (!m) return splice(t, keyEnd, keyEnd, `: ${value}`);
  const at = keyEnd + m[0].length;
  return splice(t, at, at, ` ${value}`);
}

/** Empties a pair's value (the text after its colon up to the end of the value). */
function emptyPair(t: string, pair: Pair): string {
  const keyEnd = end(pair.key as YamlNode);
  const colon = t.indexOf(':', keyEnd);
  return splice(t, colon + 1, pairEnd(pair), '');
}

// ---- the group's nodes ----

function groupMap(doc: Document, group: string): YAMLMap {
  const g = doc.getIn(['groups', group], true);
  if (!isMap(g)) throw new EditError(`has no group ${group} under groups`);
  return g;
}

function interfacesNode(doc: Document, group: string): { pair: Pair; node: YAMLMap | YAMLSeq } {
  const pair = findPair(groupMap(doc, group), 'interfaces');
  const node = pair?.value;
  if (!pair || !(isMap(node) || isSeq(node))) throw new EditError(`has no interfaces list or mapping in groups.${group}`);
  return { pair, node };
}

const seqNames = (seq: YAMLSeq): string[] => (seq.items as YamlNode[]).map((n) => (isScalar(n) ? String(n.value) : ''));

/** Turns `interfaces: [a, b]` or a block list of names into a mapping, so a NIC can carry properties. */
function interfacesAsMap(t: string, group: string): string {
  const doc = parse(t);
  const { pair, node } = interfacesNode(doc, group);
  if (isMap(node)) return t;
  const items = node.items as YamlNode[];
  if (node.flow) return splice(t, start(node), end(node), `{ ${items.map((n) => t.slice(start(n), end(n))).join(', ')} }`);
  const keyCol = column(t, start(pair.key as YamlNode));
  let out = t;
  for (let i = items.length - 1; i >= 0; i--) {
    const n = items[i]!;
    const dash = dashOf(t, n);
    const col = column(t, dash) > keyCol ? column(t, dash) : keyCol + 2;
    out = splice(out, lineStart(t, dash), end(n), `${' '.repeat(col)}${t.slice(start(n), end(n))}:`);
  }
  return out;
}

// ---- NIC properties ----

function meaning(key: string, n: unknown): string | null {
  if (isNullNode(n) || !isScalar(n)) return null;
  const v = String(n.value);
  if (key === 'standby') return ['true', 'yes', 'on'].includes(v.toLowerCase()) ? 'true' : null;
  if (v === 'none') return null;
  if (v === 'link-local') return 'link-local';
  const p = parsePrefix(v);
  return p.ok ? prefixText(p.value) : v;
}

/** The file values (null: absent) a NIC's running configuration gives for one property. */
function desiredProps(ic: InterfaceConfig, prop: 'standby' | 'test-address' | 'all'): Props {
  const out: Props = {};
  if (prop !== 'test-address') out.standby = ic.standby ? 'true' : null;
  if (prop !== 'standby') {
    out['test-address'] = ic.testAddress ? prefixText(ic.testAddress) : null;
    out['test-address6'] = ic.linkLocalTestAddress ? 'link-local' : ic.testAddress6 ? prefixText(ic.testAddress6) : null;
  }
  return out;
}

function ifPair(doc: Document, group: string, name: string): Pair {
  const { node } = interfacesNode(doc, group);
  const p = isMap(node) ? findPair(node, name) : undefined;
  if (!p) throw new EditError(`has no interface ${name} in groups.${group}.interfaces`);
  return p;
}

/** Sets the properties of a NIC entry; a value of null removes the key. Keys meaning the same are left as written. */
function setProps(text: string, group: string, name: string, want: Props): string {
  let t = text;
  const value = (): unknown => ifPair(parse(t), group, name).value;
  const v0 = value();
  const cur = (k: string): string | null => (isMap(value()) ? meaning(k, (value() as YAMLMap).get(k, true)) : null);
  const todo = PROP_KEYS.filter((k) => want[k] !== undefined && cur(k) !== want[k]);
  if (todo.length === 0) return t;
  if (!isNullNode(v0) && !isMap(v0)) throw new EditError(`has neither properties nor an empty value for groups.${group}.interfaces.${name}`);
  if (isNullNode(v0)) {
    const set = todo.filter((k) => want[k] !== null);
    if (set.length === 0) return t;
    return fillPair(t, ifPair(parse(t), group, name), `{ ${set.map((k) => `${k}: ${want[k]}`).join(', ')} }`);
  }
  for (const k of todo) {
    const entry = ifPair(parse(t), group, name);
    const map = entry.value as YAMLMap;
    const p = findPair(map, k);
    const w = want[k]!;
    if (w === null) {
      if (!p) continue;
      t = map.items.length === 1 && map.flow ? emptyPair(t, entry) : removePair(t, map, p);
    } else if (!p) {
      t = addPair(t, map, k, w);
    } else if (isNullNode(p.value) || isScalar(p.value)) {
      t = fillPair(t, p, w);
    } else {
      throw new EditError(`has a non-scalar groups.${group}.interfaces.${name}.${k}`);
    }
  }
  return t;
}

// ---- the verbs ----

function addInterfaces(text: string, group: string, ics: InterfaceConfig[]): string {
  let t = text;
  for (const ic of ics) {
    const want = desiredProps(ic, 'all');
    const plain = want.standby === null && want['test-address'] === null && want['test-address6'] === null;
    let { node } = interfacesNode(parse(t), group);
    const known = isMap(node) ? findPair(node, ic.name) !== undefined : seqNames(node).includes(ic.name);
    if (!known && isSeq(node) && plain) { t = addItem(t, node, ic.name); continue; }
    if (!plain || !known) t = interfacesAsMap(t, group);
    if (!known) {
      node = interfacesNode(parse(t), group).node;
      t = addPair(t, node as YAMLMap, ic.name, '');
    }
    if (isMap(interfacesNode(parse(t), group).node)) t = setProps(t, group, ic.name, want);
  }
  return t;
}

function removeInterfaces(text: string, group: string, names: string[]): string {
  let t = text;
  for (const name of names) {
    const { node } = interfacesNode(parse(t), group);
    if (isMap(node)) {
      const p = findPair(node, name);
      if (p) t = removePair(t, node, p);
    } else {
      const i = seqNames(node).indexOf(name);
      if (i >= 0) t = removeItem(t, node, i);
    }
  }
  return t;
}

function sameAddress(n: YamlNode, a: IpPrefix): boolean {
  if (!isScalar(n) || typeof n.value !== 'string') return false;
  const p = parsePrefix(n.value);
  return p.ok && p.value.family === a.family && p.value.address === a.address;
}

function changeAddress(t: string, group: string, a: IpPrefix, add: boolean): string {
  const g = groupMap(parse(t), group);
  const pair = findPair(g, 'addresses');
  const seq = pair?.value;
  const text = prefixText(a);
  if (isSeq(seq)) {
    const items = seq.items as YamlNode[];
    const i = items.findIndex((n) => sameAddress(n, a));
    if (!add) return i < 0 ? t : removeItem(t, seq, i);
    if (i < 0) return addItem(t, seq, text);
    const n = items[i]!;
    return meaning('addresses', n) === text ? t : splice(t, start(n), end(n), text);
  }
  if (pair && !isNullNode(seq)) throw new EditError(`has groups.${group}.addresses that is not a list`);
  if (!add) return t;
  if (!pair) return addPair(t, g, 'addresses', '', [text]);
  const v = seq as YamlNode | null;
  if (g.flow || (v && v.range && end(v) > start(v))) return fillPair(t, pair, `[${text}]`);
  const ind = ' '.repeat(column(t, start(pair.key as YamlNode)) + 2);
  return insertLines(t, lineEndAfter(t, end(pair.key as YamlNode)), [`${ind}- ${text}`]);
}

/** The file text with `edit` applied. Throws EditError when the file's shape does not allow it. */
export function editConfigText(text: string, edit: ConfigEdit): string {
  groupMap(parse(text), edit.group);
  switch (edit.op) {
    case 'add-ipmp': return addInterfaces(text, edit.group, edit.interfaces);
    case 'remove-ipmp': return removeInterfaces(text, edit.group, edit.interfaces);
    case 'create-addr': return changeAddress(text, edit.group, edit.address, true);
    case 'delete-addr': return changeAddress(text, edit.group, edit.address, false);
    case 'set-ifprop': {
      const doc = parse(text);
      const { node } = interfacesNode(doc, edit.group);
      const name = edit.interface.name;
      const want = desiredProps(edit.interface, edit.prop);
      if (isSeq(node)) {
        if (!seqNames(node).includes(name)) throw new EditError(`has no interface ${name} in groups.${edit.group}.interfaces`);
        if (PROP_KEYS.every((k) => want[k] === undefined || want[k] === null)) return text;
      }
      return setProps(interfacesAsMap(text, edit.group), edit.group, name, want);
    }
  }
}

/** "create-addr 198.18.0.12/24 on ipmp0", for log lines. */
export function describeEdit(edit: ConfigEdit): string {
  switch (edit.op) {
    case 'add-ipmp': return `add-ipmp ${edit.interfaces.map((i) => i.name).join(',')} to ${edit.group}`;
    case 'remove-ipmp': return `remove-ipmp ${edit.interfaces.join(',')} from ${edit.group}`;
    case 'create-addr': case 'delete-addr': return `${edit.op} ${prefixText(edit.address)} on ${edit.group}`;
    case 'set-ifprop': {
      const w = desiredProps(edit.interface, edit.prop);
      const v = edit.prop === 'standby' ? (edit.interface.standby ? 'on' : 'off')
        : [w['test-address'], w['test-address6']].filter((x) => x).join(',') || 'none';
      return `set-ifprop ${edit.prop}=${v} on ${edit.interface.name} (${edit.group})`;
    }
  }
}
