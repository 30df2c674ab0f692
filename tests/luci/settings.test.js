'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { makeEnv, flush, plain, ROOT } = require('./harness.js');

const eq = (a, b, msg) => assert.deepEqual(plain(a), plain(b), msg);
const HIDDEN = ['control_socket', 'pki_dir', 'state_dir'];
const LAN = { lan: { '.type': 'interface', proto: 'static', ipaddr: '192.168.1.1', netmask: '255.255.255.0' } };

function renderSettings(server = {}, rpc = {}) {
  const env = makeEnv({ uci: { server: { '.type': 'ikev2d', auth_mode: 'psk', ...server } }, configs: { network: LAN }, rpc });
  const schema = env.load('ikev2d.schema').schema;
  const view = env.load('view.ikev2d.settings');
  view.render();
  const map = env.log.maps[0];
  const s = map.sections[0];
  const opt = (name) => s.children.find((c) => c.option === name);
  const users = opt('_users').subsection;
  return { env, schema, view, map, s, opt, users };
}

// The daemon's verdict on values of one option (ikev2d.policy.config.from_mapping), so the
// page is compared with the real thing, not with a copy of its rules.
function daemonAccepts(option, values, extra = {}) {
  const python = process.env.IKEV2D_PYTHON || path.join(ROOT, '.venv/bin/python');
  const script = `
import json, sys, ipaddress
from ikev2d.policy.config import from_mapping, LanInfo
from ikev2d.policy.errors import ConfigError
option, values, extra = json.loads(sys.argv[1])
lan = LanInfo(ipaddress.IPv4Address("192.168.1.1"), ipaddress.IPv4Network("192.168.1.0/24"))
base = {"enabled": True, "psk": "k8#Lm2$pQ9zR4vW7nX1yAAbbCC", **extra}
out = []
for v in values:
    try:
        from_mapping({"server": {**base, option: v}}, lan=lan)
        out.append(True)
    except ConfigError:
        out.append(False)
print(json.dumps(out))`;
  return JSON.parse(execFileSync(python, ['-c', script, JSON.stringify([option, values, extra])], { cwd: ROOT }).toString());
}

test('the page is one form.Map over the ikev2d config; users live on the Authentication tab', () => {
  const { map, opt, users } = renderSettings();
  assert.equal(map.config, 'ikev2d');
  eq(map.sections.map((s) => [s.cls, s.type, s.name]), [['NamedSection', 'ikev2d', 'server']]);
  eq(map.sections[0].tabs, ['general', 'auth', 'network', 'proposals', 'advanced']);
  assert.equal(opt('_users').tab, 'auth');
  eq(opt('_users').deps, [{ auth_mode: 'eap' }], 'the users table shows only when devices log in with users');
  eq([users.cls, users.type], ['GridSection', 'user']);
});

test('every schema option appears once (file paths stay in the config file), as the schema says', () => {
  const { s, users, schema } = renderSettings();
  const bySection = { server: s, user: users };
  for (const o of schema.options) {
    const found = bySection[o.section].children.filter((c) => c.option === o.name);
    if (HIDDEN.includes(o.name)) {
      assert.equal(found.length, 0, `${o.name} is a file path`);
      continue;
    }
    assert.equal(found.length, 1, `${o.section}.${o.name} appears ${found.length} times`);
    const w = found[0];
    if (o.type === 'bool') {
      assert.equal(w.cls, 'Flag', o.name);
      assert.equal(w.default, o.uci_default, o.name);
    } else if (w.validate) {  // the page's own check of the daemon's rule replaces the datatype
      assert.equal(w.datatype, undefined, `${o.name} has a check and a datatype`);
    } else {
      assert.equal(w.datatype, o.datatype || undefined, `${o.name} datatype`);
    }
    if (o.choices.length) {
      assert.equal(w.cls, 'ListValue', o.name);
      eq(w.choices.map((c) => c[0]), o.choices, o.name);
    } else if (o.list) {
      assert.equal(w.cls, 'DynamicList', o.name);
    }
    if (o.secret) assert.equal(w.password, true, o.name);
  }
  const names = new Set(schema.options.map((o) => `${o.section}.${o.name}`));
  for (const [sec, section] of Object.entries(bySection))
    for (const c of section.children)
      if (!c.option.startsWith('_')) assert.ok(names.has(`${sec}.${c.option}`), `${sec}.${c.option} not in schema`);
});

test('titles, help, choices and placeholders speak to a router owner, not in option names', () => {
  const { s, users, schema } = renderSettings();
  const optionNames = schema.options.map((o) => o.name).filter((n) => n.includes('_') || ['psk', 'eap', 'cert', 'pool', 'dns'].includes(n));
  const words = [];
  for (const c of [...s.children, ...users.children]) {
    if (users.children.includes(c))
      assert.ok(c.title && !c.description, `user column ${c.option}: a title, no help row in the table`);
    else if (c.option !== '_users')
      assert.ok(c.title && (c.description || c.cls === 'Button' || c.cls === 'DummyValue'), `${c.option} lacks a title or help`);
    words.push(c.title, c.description, c.placeholder, ...c.choices.map((ch) => ch[1]));
  }
  for (const text of words.filter((w) => typeof w === 'string'))
    for (const name of optionNames)
      assert.ok(!new RegExp(`\\b${name}\\b`).test(text), `"${text}" names the option ${name}`);
  // every choice of a list in words: a new value in the schema needs its label here
  for (const c of [...s.children, ...users.children].filter((w) => w.cls === 'ListValue' && !w.option.startsWith('_')))
    for (const [key, label] of c.choices)
      assert.notEqual(label, key, `${c.option}: the choice ${key} has no label`);
  const address = s.children.find((c) => c.option === 'server_address');
  assert.match(address.description, /Every device profile needs it/);
  assert.notEqual(address.placeholder, 'unset');
});

test('options are declared in the order they show: no reordering of internals', () => {
  const { s, users } = renderSettings();
  const order = s.children.map((c) => c.option);
  eq(order.slice(order.indexOf('psk'), order.indexOf('psk') + 4), ['psk', '_psk_generate', '_psk_strength', 'allow_weak_psk']);
  assert.ok(order.indexOf('_preset') < order.indexOf('ike_proposal'));
  eq(users.children.map((c) => c.option), ['name', 'password', 'ip', 'enabled']);
  assert.equal(users.children.find((c) => c.option === 'password').modalonly, true, 'passwords never listed');
});

test('"Allow a weak key" really relaxes the key check, and the page refuses what the daemon refuses', () => {
  const { opt, env } = renderSettings({ enabled: '1' });
  const psk = opt('psk');
  eq(psk.deps, [{ 'ikev2d.server.auth_mode': 'psk' }]);
  const keys = ['short7key', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'abcdefg1abcdefg1abcdefg1', 'k8#Lm2$pQ9zR4vW7nX1yAAbbCC'];
  const pageAccepts = () => keys.map((k) => psk.validate('server', k) === true);
  eq(pageAccepts(), [false, false, true, true]);
  const daemon = daemonAccepts('psk', keys);
  // the guessability estimate is the daemon's alone (checked before Save & Apply): the page
  // never accepts less than the daemon, and never refuses what it accepts
  keys.forEach((k, i) => assert.ok(!daemon[i] || pageAccepts()[i], `page refuses ${k}, which the daemon accepts`));
  assert.equal(pageAccepts().filter((ok, i) => ok && !daemon[i]).length, 1, 'only the guessable key is left to the check');
  opt('allow_weak_psk').getUIElement('server').setValue('1');
  opt('allow_weak_psk').onchange({}, 'server', '1');
  assert.equal(env.log.ui['server.psk'].validations, 1, 'toggling re-checks the key');
  eq(pageAccepts(), [true, true, true, true]);
  eq(daemonAccepts('psk', keys, { allow_weak_psk: true }), [true, true, true, true]);
  // no key: refused while the server is enabled, as the daemon does
  assert.notEqual(psk.validate('server', ''), true);
  opt('enabled').getUIElement('server').setValue('0');
  assert.equal(psk.validate('server', ''), true);
});

test('the generator fills a 32-character key and checks it', () => {
  const { opt, env } = renderSettings();
  opt('_psk_generate').onclick({}, 'server');
  const key = env.log.ui['server.psk'].value;
  assert.equal(key.length, 32);
  assert.match(key, /^[A-Za-z2-9]+$/);
  assert.equal(env.log.ui['server.psk'].validations, 1);
  eq(opt('remote_id').deps, [{ remote_id_type: 'any', '!reverse': true }]);
});

test('proposals: the page refuses exactly the proposals the daemon refuses', () => {
  const { opt } = renderSettings();
  const cases = {
    ike_proposal: ['aes256-sha256-modp2048', 'aes256-sha256-modp9999', 'aes256-sha256', 'aes256gcm16-sha256-curve25519',
      'aes256gcm16-prfsha256-curve25519', 'aes256gcm16-curve25519', 'aes256-aes128-sha256-modp2048', 'aes256-sha256-esn-modp2048',
      'aes256-sha1-modp1024', '3des-sha256-modp2048', 'aes256--modp2048', 'chacha20poly1305-prfsha256-x25519', 'AES256-SHA256-ECP256'],
    esp_proposal: ['aes256-sha256', 'aes256gcm16', 'aes256gcm16-esn', 'aes256-sha256-prfsha256', 'aes256', 'aes256-sha256-modp2048',
      'aes256-sha1', 'aes256gcm16-sha256', 'aes256-sha256-esn-noesn', 'chacha20poly1305'],
  };
  for (const legacy of [false, true]) {
    opt('legacy_proposals').getUIElement('server').setValue(legacy ? '1' : '0');
    for (const [name, values] of Object.entries(cases)) {
      const page = values.map((v) => opt(name).validate('server', v) === true);
      const daemon = daemonAccepts(name, values.map((v) => [v]), { legacy_proposals: legacy });
      values.forEach((v, i) => assert.equal(page[i], daemon[i], `${name} ${v} (legacy ${legacy}): page ${page[i]}, daemon ${daemon[i]}`));
    }
  }
  assert.match(String(opt('ike_proposal').validate('server', 'aes256-sha256-modp9999')), /Unknown algorithm "modp9999"/);
});

test('the device pool: the page refuses exactly the pools the daemon refuses', () => {
  const { opt } = renderSettings();
  const pools = ['10.10.10.0/24', '10.10.10.5/24', '192.168.1.0/25', '192.168.0.0/16', '10.0.0.0/31', '10.0.0.0/7',
    '10.10.10.0', '172.16.0.0/12', 'not a network', '300.1.1.0/24'];
  const page = pools.map((p) => opt('pool').validate('server', p) === true);
  eq(page, daemonAccepts('pool', pools));
  assert.match(String(opt('pool').validate('server', '10.10.10.5/24')), /use 10\.10\.10\.0\/24/);
  assert.match(String(opt('pool').validate('server', '192.168.1.0/25')), /Overlaps the LAN \(192\.168\.1\.0\/24\)/);
  // a network the devices reach counts too
  opt('local_subnet').getUIElement('server').setValue(['172.20.0.0/16']);
  assert.match(String(opt('pool').validate('server', '172.20.5.0/24')), /Overlaps 172\.20\.0\.0\/16/);
  opt('local_subnet').getUIElement('server').setValue(['0.0.0.0/0']);
  assert.equal(opt('pool').validate('server', '172.20.5.0/24'), true, 'a full tunnel overlaps nothing');
  // a user's fixed address must be a host of the pool
  const { users } = renderSettings({ pool: '10.10.10.0/24' });
  const ip = users.children.find((c) => c.option === 'ip');
  eq(['10.10.10.20', '10.10.10.0', '10.10.10.255', '10.10.11.2'].map((a) => ip.validate('u1', a) === true), [true, false, false, false]);
  // in the edit dialog LuCI gives the option a map of its own, whose parent is the page's
  const dialog = { ...ip, map: { lookupOption: () => null, parent: ip.map } };
  assert.match(String(ip.validate.call(dialog, 'u1', '10.10.11.2')), /pool 10\.10\.10\.0\/24/);
});

test('Save & Apply asks the daemon first and applies only what it accepts', async () => {
  let answer = { ok: true, result: { valid: true, problems: [], warnings: ['full tunnel without masquerade'] } };
  const { view, env } = renderSettings({}, { 'ikev2d.check': () => answer });
  await view.handleSaveApply({}, '0');
  assert.equal(env.log.saved, 1);
  eq(env.log.rpc.map((r) => r.method), ['check']);
  eq(env.log.applied, [true]);
  assert.match(env.log.notifications[0].content.textContent, /full tunnel without masquerade/);

  answer = { ok: true, result: { valid: false, problems: ['server.psk: <hidden> is required when auth_mode is psk'], warnings: [] } };
  await view.handleSaveApply({}, '0');
  eq(env.log.applied, [true], 'a refused configuration is not applied');
  const modal = env.log.modals.at(-1).content;
  assert.match(modal.textContent, /server\.psk: <hidden> is required/);
  assert.match(modal.textContent, /Nothing was applied/);
  await Promise.all(modal.find((n) => n.tag === 'button' && n.textContent === 'Apply anyway').click());
  eq(env.log.applied, [true, true], '"Apply anyway" applies');

  answer = { ok: false, error: 'internal error: OSError' };
  await view.handleSaveApply({}, '1');
  eq(env.log.applied, [true, true, false], 'a check that cannot run does not block (mode 1: unchecked apply)');
  assert.match(env.log.notifications.at(-1).content.textContent, /could not be checked/);
});

test('presets fill both proposal lists and are never stored themselves', () => {
  const { opt, env } = renderSettings();
  const preset = opt('_preset');
  const dh19 = env.load('ikev2d.schema').presets.find((p) => p.id === 'sha256-aes256-dh19');
  assert.ok(preset.choices.some((c) => c[0] === 'custom'));
  preset.onchange({}, 'server', 'sha256-aes256-dh19');
  eq(env.log.ui['server.ike_proposal'].value, dh19.ike);
  eq(env.log.ui['server.esp_proposal'].value, dh19.esp);
  assert.equal(preset.write(), undefined);
  assert.match(opt('legacy_proposals').description, /MODP1024/);
});

test('without access to the network config the page still renders (the check before apply covers the LAN)', async () => {
  const env = makeEnv({ uci: { server: { '.type': 'ikev2d' } } });
  const view = env.load('view.ikev2d.settings');
  await view.load();
  view.render();
  const s = env.log.maps[0].sections[0];
  assert.equal(s.children.find((c) => c.option === 'pool').validate('server', '192.168.1.0/25'), true);
  await flush();
});

test('secrets live in their own config, under their section\'s name: a read-only user never reads them', () => {
  const env = makeEnv({
    uci: { server: { '.type': 'ikev2d', auth_mode: 'eap', psk: 'old-key-in-the-main-file-123' },
      user_1a2b3c4d: { '.type': 'user', name: 'alice' } },
    configs: { ikev2d_secrets: { user_1a2b3c4d: { '.type': 'user', password: 'alice pw' } } },
  });
  const schema = env.load('ikev2d.schema').schema;
  env.load('view.ikev2d.settings').render();
  const map = env.log.maps[0];
  assert.equal(schema.secrets_config, 'ikev2d_secrets');
  eq(map.parsechain, ['ikev2d', 'ikev2d_secrets']);
  const s = map.sections[0];
  const users = s.children.find((c) => c.option === '_users').subsection;
  const all = [...s.children, ...users.children];
  for (const o of schema.options) {
    const w = all.find((c) => c.option === o.name && (o.section === 'user') === users.children.includes(c));
    if (w) assert.equal(w.uciconfig, o.secret ? 'ikev2d_secrets' : undefined, o.name);
  }
  // LuCI's form looks a dependency "name" up as cbid.<the option's config>.<section>.name: an
  // option kept in another config must name its dependencies fully (config.section.option)
  for (const c of all.filter((w) => w.uciconfig))
    for (const dep of c.deps)
      for (const key of Object.keys(dep).filter((k) => !k.startsWith('!')))
        assert.match(key, /^ikev2d\.[\w]+\.\w+$/, `${c.option} depends on ${key}, looked up in ${c.uciconfig}`);
  const psk = s.children.find((c) => c.option === 'psk');
  const password = users.children.find((c) => c.option === 'password');
  const secrets = env.log.configs.ikev2d_secrets;
  // a key still in the main config is shown, and moves on save
  assert.equal(psk.cfgvalue('server'), 'old-key-in-the-main-file-123');
  psk.write('server', 'a-new-key-of-enough-length-42');
  eq(secrets.server, { '.type': 'ikev2d', psk: 'a-new-key-of-enough-length-42' });
  assert.equal(env.log.uciData.server.psk, undefined, 'no key left in the readable config');
  assert.equal(password.cfgvalue('user_1a2b3c4d'), 'alice pw');
  // users are named sections (a random name), so a password follows its user
  const name = users.handleAdd({});
  assert.match(name, /^user_[0-9a-f]{8}$/);
  eq(env.log.sectionsAdded, [name]);
  env.log.uciData[name] = { '.type': 'user', name: 'bob' };  // what GridSection.handleAdd made
  password.write(name, 'bob pw');
  eq(secrets[name], { '.type': 'user', password: 'bob pw' });
  users.handleRemove(name);
  assert.equal(secrets[name], undefined, 'a removed user takes its password along');
  eq(env.log.sectionsRemoved, [name]);
});
