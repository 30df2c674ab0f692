'use strict';
// Loads the REAL view sources in node:vm with small stand-ins for LuCI's API (the pattern of
// LuCI's own applications/luci-app-package-manager/tests). The stand-ins keep LuCI's sharp
// edge: a bare string child of E() is parsed as HTML (innerHTML), only strings inside an
// array become text nodes, so an unescaped client string shows up as markup in serialize().
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const ROOT = path.resolve(__dirname, '../..');
const RES = path.join(ROOT, 'luci-app/htdocs/luci-static/resources');

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escAttr = (s) => esc(s).replace(/"/g, '&quot;');

class FakeNode {
  constructor(tag) { this.tag = tag; this.attrs = {}; this.children = []; this.listeners = {}; this.parentNode = null; }
  appendChild(c) { c.parentNode = this; this.children.push(c); return c; }
  removeChild(c) { this.children = this.children.filter((x) => x !== c); c.parentNode = null; return c; }
  get firstChild() { return this.children[0] || null; }
  get lastChild() { return this.children[this.children.length - 1] || null; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; }
  addEventListener(ev, fn) { (this.listeners[ev] = this.listeners[ev] || []).push(fn); }
  set innerHTML(html) { this.children = []; this.appendChild(new RawHtml(html)); }
  set textContent(t) { this.children = []; this.appendChild(new FakeText(t)); }
  get textContent() { return this.children.map((c) => c.textContent).join(''); }
  click() { return (this.listeners.click || []).map((fn) => fn({ target: this, currentTarget: this })); }
  serialize() {
    const attrs = Object.entries(this.attrs).map(([k, v]) => ` ${k}="${escAttr(v)}"`).join('');
    return `<${this.tag}${attrs}>${this.children.map((c) => c.serialize()).join('')}</${this.tag}>`;
  }
  *walk() { yield this; for (const c of this.children) if (c instanceof FakeNode) yield* c.walk(); }
  find(pred) { for (const n of this.walk()) if (pred(n)) return n; return null; }
  findAll(pred) { return [...this.walk()].filter(pred); }
}
class FakeText { constructor(t) { this.text = t; } get textContent() { return this.text; } serialize() { return esc(this.text); } }
class RawHtml { constructor(h) { this.html = h; } get textContent() { return this.html; } serialize() { return this.html; } }
const isNode = (x) => x instanceof FakeNode || x instanceof FakeText || x instanceof RawHtml;

const dom = {
  elem: isNode,
  append(node, children) {
    if (Array.isArray(children)) {
      for (const c of children) {
        if (isNode(c)) node.appendChild(c);
        else if (c !== null && c !== undefined) node.appendChild(new FakeText('' + c));
      }
      return node.lastChild;
    }
    if (typeof children === 'function') return dom.append(node, children(node));
    if (isNode(children)) return node.appendChild(children);
    if (children !== null && children !== undefined) node.innerHTML = '' + children;
    return null;
  },
  content(node, children) { node.children = []; return dom.append(node, children); },
};

function E(tag, attrs, data) {
  // typeof, not instanceof: objects made inside the vm belong to another realm
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs) || isNode(attrs)) { data = attrs; attrs = null; }
  const el = new FakeNode(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'function') el.addEventListener(k, v);
    else el.setAttribute(k, typeof v === 'object' ? JSON.stringify(v) : v);
  }
  if (data !== undefined) dom.append(el, data);
  return el;
}

function format(fmt, ...args) {
  let i = 0;
  return fmt.replace(/%([shd%])/g, (m, c) => {
    if (c === '%') return '%';
    const v = args[i++];
    if (c === 'h') return esc(v);
    if (c === 'd') return String(Math.trunc(Number(v)));
    return String(v);
  });
}

// --- form: records what the view declares ------------------------------------------------
function makeForm(log) {
  class Option {
    constructor(section, cls, name, title, description, tab) {
      Object.assign(this, { section, cls, option: name, title, description, tab, choices: [], deps: [] });
      this.map = section.map;
    }
    value(k, label) { this.choices.push([k, label === undefined ? k : label]); }
    depends(k, v) { this.deps.push(typeof k === 'object' ? k : { [k]: v }); }
    getUIElement(sid) {
      const key = `${sid}.${this.option}`;
      return (log.ui[key] = log.ui[key] || {
        value: undefined, validations: 0,
        setValue(v) { this.value = v; },
        triggerValidation() { this.validations++; },
      });
    }
    // what the widget holds now: a value set through its UI element, else the stored one
    formvalue(sid) {
      const el = log.ui[`${sid}.${this.option}`];
      return el && el.value !== undefined ? el.value : (log.uciData[sid] || {})[this.option];
    }
  }
  const widgets = {};
  for (const n of ['Flag', 'ListValue', 'DynamicList', 'Value', 'DummyValue', 'Button', 'MultiValue']) {
    widgets[n] = class extends Option {};
    Object.defineProperty(widgets[n], 'name', { value: n });
  }
  // an option that holds a whole section (LuCI's form.SectionValue(section, name, class, ...args))
  widgets.SectionValue = class extends Option {
    constructor(section, cls, name, subclass, type, tab, ...args) {
      super(section, cls, name, undefined, undefined, tab);
      this.subsection = new subclass(section.map, subclass.name, type, ...args);
    }
  };
  class Section {
    constructor(map, cls, type, title, description, name) {
      Object.assign(this, { map, cls, type, title, description, name, children: [], tabs: [] });
    }
    tab(n, t) { this.tabs.push(n); (this.tabTitles = this.tabTitles || []).push(t); }
    option(cls, name, ...rest) { return this.taboption(null, cls, name, ...rest); }
    taboption(tab, cls, name, title, description, ...rest) {
      const o = new cls(this, cls.name, name, title, description, tab, ...rest);
      this.children.push(o);
      return o;
    }
    formvalue(sid, option) {
      const o = this.children.find((c) => c.option === option);
      return o ? o.formvalue(sid) : undefined;
    }
  }
  class NamedSection extends Section {}
  class GridSection extends Section {
    constructor(map, cls, type, title, description) { super(map, cls, type, title, description); }
    handleAdd(ev, name) { log.sectionsAdded.push(name); return name; }
    handleRemove(sid) { log.sectionsRemoved.push(sid); }
  }
  class TypedSection extends Section {}
  class Map {
    constructor(config, title, description) {
      Object.assign(this, { config, title, description, sections: [], parsechain: [config] });
      log.maps.push(this);
    }
    chain(config) { this.parsechain.push(config); }
    section(cls, a, b, c, d) {
      const s = cls === NamedSection ? new cls(this, 'NamedSection', b, c, d, a) : new cls(this, cls.name, a, b, c);
      this.sections.push(s);
      return s;
    }
    // as LuCI's: by cbid.<config>.<section>.<option>, the config being this map's unless
    // given (or the name is "config.section.option"); an option kept in another config
    // (uciconfig) is found only under that config
    lookupOption(name, sid, config) {
      const [conf, sec, opt] = name.includes('.') ? name.split('.') : [config || this.config, sid, name];
      const all = (sections) => sections.flatMap((s) => [...s.children, ...all(s.children.filter((o) => o.subsection).map((o) => o.subsection))]);
      const o = all(this.sections).find((c) => c.option === opt && (c.uciconfig || this.config) === conf);
      return o ? [o, sec] : null;
    }
    render() { return Promise.resolve(E('div', { 'class': 'cbi-map' }, [])); }
  }
  return { Map, NamedSection, GridSection, TypedSection, ...widgets };
}

function makeEnv(opts = {}) {
  const log = { rpc: [], declared: [], polls: [], modals: [], notifications: [], maps: [], ui: {}, downloads: [],
    saved: 0, applied: [], sectionsAdded: [], sectionsRemoved: [] };
  const handlers = opts.rpc || {};
  const uciData = opts.uci || {};
  // every UCI config the session may read: { name: { section: { '.type': ..., option: value } } }
  const configs = { ...(opts.configs || {}), ikev2d: uciData };
  log.uciData = uciData;
  log.configs = configs;
  const body = new FakeNode('body');
  const document = {
    body,
    createTextNode: (t) => new FakeText(t),
    getElementById: (id) => body.find((n) => n.attrs.id === id),
  };
  const sandbox = {
    console,
    atob: (s) => Buffer.from(s, 'base64').toString('binary'),
    Blob: class { constructor(parts, o) { this.parts = parts; this.type = o && o.type; } },
    URL: { createObjectURL: (b) => { log.downloads.push({ blob: b }); return 'blob:1'; }, revokeObjectURL() {} },
    document,
    window: { crypto: { getRandomValues: (a) => { for (let i = 0; i < a.length; i++) a[i] = (i * 37 + 11) & 255; return a; } } },
    E, _: (s) => s, N_: (s) => s,
    L: {
      toArray: (x) => (x == null ? [] : Array.isArray(x) ? x : String(x).split(/\s+/).filter(Boolean)),
      resolveDefault: (p, d) => Promise.resolve(p).catch(() => d),
      hasViewPermission: () => !opts.readonly,
    },
  };
  sandbox.__format = format;
  const modules = {
    ...(opts.modules || {}),  // a stand-in for one of the app's own modules (ikev2d.schema)
    baseclass: { extend: (o) => o },
    // LuCI's view: the default handleSave saves every form.Map of the page
    view: { extend: (o) => Object.assign({ handleSave() { log.saved++; return Promise.resolve(); } }, o) },
    dom,
    rpc: {
      declare(decl) {
        log.declared.push(decl);
        return (...args) => {
          const params = {};
          (decl.params || []).forEach((p, i) => { params[p] = args[i]; });
          log.rpc.push({ object: decl.object, method: decl.method, params });
          const h = handlers[`${decl.object}.${decl.method}`];
          return Promise.resolve(typeof h === 'function' ? h(params) : h);
        };
      },
    },
    poll: { add(fn, interval) { log.polls.push({ fn, interval }); } },
    ui: {
      changes: { apply(checked) { log.applied.push(checked); } },
      showModal(title, content) { log.modals.push({ title, content: E('div', {}, content) }); },
      hideModal() { log.modals.push({ hidden: true }); },
      addNotification(title, content, kind) { log.notifications.push({ content, kind }); },
      createHandlerFn(ctx, fn, ...args) {
        const f = typeof fn === 'string' ? ctx[fn] : fn;
        return (ev) => f.call(ctx, ...args, ev);
      },
    },
    uci: {
      load: (conf) => (configs[conf] ? Promise.resolve() : Promise.reject(new Error('Access denied'))),
      get: (conf, sid, opt) => {
        const s = (configs[conf] || {})[sid];
        return opt === undefined ? s : (s || {})[opt];
      },
      add: (conf, type, name) => { (configs[conf] = configs[conf] || {})[name] = { '.type': type }; return name; },
      set: (conf, sid, opt, value) => { if ((configs[conf] || {})[sid]) configs[conf][sid][opt] = value; },
      unset: (conf, sid, opt) => { if ((configs[conf] || {})[sid]) delete configs[conf][sid][opt]; },
      remove: (conf, sid) => { if (configs[conf]) delete configs[conf][sid]; },
      sections: (conf, type) => Object.entries(uciData).filter(([, s]) => s['.type'] === type)
        .map(([sid, s]) => ({ '.name': sid, ...s })),
    },
  };
  modules.form = makeForm(log);
  vm.createContext(sandbox);
  vm.runInContext('String.prototype.format = function (...a) { return __format(String(this), ...a); };', sandbox);

  function load(modpath) {
    const file = path.join(RES, modpath.replace(/\./g, '/') + '.js');
    const src = fs.readFileSync(file, 'utf8');
    const names = [], values = [];
    for (const m of src.matchAll(/^'require ([\w.]+)(?: as (\w+))?';$/gm)) {
      const [, dep, alias] = m;
      names.push(alias || dep.split('.').pop());
      values.push(modules[dep] || load(dep));
    }
    const fn = vm.runInContext(`(function(${names.join(',')}) {\n${src}\n})`, sandbox, { filename: file });
    return fn(...values);
  }
  return { load, log, body, document, sandbox, FakeNode };
}

const plain = (x) => JSON.parse(JSON.stringify(x));  // vm-realm values -> this realm
const flush = () => new Promise((r) => setImmediate(r));

module.exports = { makeEnv, flush, plain, ROOT, RES };
