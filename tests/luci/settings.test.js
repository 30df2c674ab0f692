'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makeEnv, plain } = require('./harness.js');

const eq = (a, b, msg) => assert.deepEqual(plain(a), plain(b), msg);

function renderSettings() {
  const env = makeEnv({ uci: { server: { '.type': 'ikev2d', auth_mode: 'psk' } } });
  const schema = env.load('ikev2d.schema').schema;
  const view = env.load('view.ikev2d.settings');
  view.render();
  const map = env.log.maps[0];
  return { env, schema, view, map };
}

test('the page is one form.Map over the ikev2d config', () => {
  const { map } = renderSettings();
  assert.equal(map.config, 'ikev2d');
  eq(map.sections.map((s) => [s.cls, s.type, s.name]),
    [['NamedSection', 'ikev2d', 'server'], ['GridSection', 'user', undefined]]);
  eq(map.sections[0].tabs, ['general', 'auth', 'network', 'proposals', 'advanced']);
});

test('every schema option appears once, with the schema datatype, choices and default', () => {
  const { map, schema } = renderSettings();
  const [server, users] = map.sections;
  const bySection = { server, user: users };
  for (const o of schema.options) {
    const found = bySection[o.section].children.filter((c) => c.option === o.name);
    assert.equal(found.length, 1, `${o.section}.${o.name} appears ${found.length} times`);
    const w = found[0];
    if (o.type === 'bool') {
      assert.equal(w.cls, 'Flag', o.name);
      assert.equal(w.default, o.uci_default, o.name);
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
  // and nothing the daemon would reject: every stored option is in the schema
  const names = new Set(schema.options.map((o) => `${o.section}.${o.name}`));
  for (const [sec, s] of Object.entries(bySection))
    for (const c of s.children)
      if (!c.option.startsWith('_')) assert.ok(names.has(`${sec}.${c.option}`), `${sec}.${c.option} not in schema`);
});

test('tabs hold the options the issue lists', () => {
  const { map } = renderSettings();
  const tabOf = Object.fromEntries(map.sections[0].children.map((c) => [c.option, c.tab]));
  assert.equal(tabOf.server_address, 'general');
  assert.equal(tabOf.psk, 'auth');
  assert.equal(tabOf._psk_generate, 'auth');
  assert.equal(tabOf.local_subnet, 'network');
  assert.equal(tabOf._preset, 'proposals');
  assert.equal(tabOf.legacy_proposals, 'proposals');
  assert.equal(tabOf.fragment_size, 'advanced');
  eq(map.sections[1].children.map((c) => c.option), ['name', 'password', 'ip', 'enabled']);
  // passwords are never listed in the users table, only in the edit dialog
  assert.equal(map.sections[1].children.find((c) => c.option === 'password').modalonly, true);
  // the generator and the strength hint sit right under the key
  const order = map.sections[0].children.map((c) => c.option);
  eq(order.slice(order.indexOf('psk'), order.indexOf('psk') + 3), ['psk', '_psk_generate', '_psk_strength']);
});

test('psk depends on auth_mode psk; the generator fills a 32-character key', () => {
  const { map } = renderSettings();
  const s = map.sections[0];
  const psk = s.children.find((c) => c.option === 'psk');
  eq(psk.deps, [{ auth_mode: 'psk' }]);
  const gen = s.children.find((c) => c.option === '_psk_generate');
  gen.onclick({}, 'server');
  const key = psk.getUIElement('server').value;
  assert.equal(key.length, 32);
  assert.match(key, /^[A-Za-z2-9]+$/);
  const rid = s.children.find((c) => c.option === 'remote_id');
  eq(rid.deps, [{ remote_id_type: 'any', '!reverse': true }]);
});

test('presets fill both proposal lists and are never stored themselves', () => {
  const { map, schema, env } = renderSettings();
  const s = map.sections[0];
  const preset = s.children.find((c) => c.option === '_preset');
  const dh19 = env.load('ikev2d.schema').presets.find((p) => p.id === 'sha256-aes256-dh19');
  assert.ok(preset.choices.some((c) => c[0] === 'custom'));
  preset.onchange({}, 'server', 'sha256-aes256-dh19');
  eq(env.log.ui['server.ike_proposal'].value, dh19.ike);
  eq(env.log.ui['server.esp_proposal'].value, dh19.esp);
  assert.equal(preset.write(), undefined);
  const ike = s.children.find((c) => c.option === 'ike_proposal');
  assert.equal(ike.validate('server', 'aes256-sha256-modp2048'), true);
  assert.match(String(ike.validate('server', 'aes256-md5-modp768')), /md5/);
  const legacy = s.children.find((c) => c.option === 'legacy_proposals');
  assert.match(legacy.description, /MODP1024/);
});
