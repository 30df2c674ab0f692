'use strict';
'require baseclass';
'require ikev2d.schema as schemamod';

// The daemon's rules for single values, as the settings page checks them while the owner types.
// Every number and keyword comes from the generated schema (ikev2d.policy); what needs the
// whole configuration or the daemon's own estimate (how guessable a key is, duplicates) is
// left to the check before Save & Apply, which asks the daemon itself.
var SCHEMA = schemamod.schema;
var SLOT_NAMES = {
	encr: _('encryption algorithm'), integ: _('integrity algorithm'), prf: _('PRF'),
	ke: _('key exchange group'), esn: _('ESN setting')
};

function schemaOption(section, name) {
	for (var i = 0; i < SCHEMA.options.length; i++)
		if (SCHEMA.options[i].section == section && SCHEMA.options[i].name == name)
			return SCHEMA.options[i];
	throw new Error('option ' + section + '.' + name + ' is not in the schema');
}

// ikev2d.policy.psk: length and variety (the guessability estimate runs in the daemon)
function pskProblem(value, weakAllowed) {
	var chars = Array.from(String(value)), p = SCHEMA.psk_policy;
	if (weakAllowed)
		return null;
	if (chars.length < p.min_length)
		return _('At least %d characters, or tick "Allow a weak key"').format(p.min_length);
	if (new Set(chars).size < p.min_distinct)
		return _('At least %d different characters, or tick "Allow a weak key"').format(p.min_distinct);
	return null;
}

// ikev2d.policy.proposals.parse_proposal, and legacy_proposals for weak algorithms
function proposalProblem(text, kind, legacyAllowed) {
	var words = String(text).trim().toLowerCase().split('-'), slots = {};
	if (words.indexOf('') >= 0)
		return _('A proposal is algorithms joined by "-", like aes256-sha256-modp2048');
	for (var i = 0; i < words.length; i++) {
		var a = SCHEMA.algorithms[words[i]];
		if (!a)
			return _('Unknown algorithm "%s"').format(words[i]);
		if (a.type == 'prf' && kind == 'esp')
			return _('"%s" is a PRF, which tunnel proposals do not take').format(words[i]);
		if (a.type == 'esn' && kind == 'ike')
			return _('"%s" is only for tunnel proposals').format(words[i]);
		if (slots[a.type])
			return _('More than one %s: %s and %s').format(SLOT_NAMES[a.type], slots[a.type], words[i]);
		if (a.legacy && !legacyAllowed)
			return _('"%s" is weak: tick "Allow Windows\' old algorithms" to use it').format(words[i]);
		slots[a.type] = words[i];
	}
	if (!slots.encr)
		return _('No encryption algorithm, e.g. aes256');
	var aead = SCHEMA.algorithms[slots.encr].aead;
	if (aead && slots.integ)
		return _('"%s" protects integrity itself: leave out "%s"').format(slots.encr, slots.integ);
	if (!aead && !slots.integ)
		return _('"%s" needs an integrity algorithm, e.g. sha256').format(slots.encr);
	if (kind == 'ike' && !slots.prf && !slots.integ)
		return _('"%s" needs a PRF, e.g. prfsha256').format(slots.encr);
	if (kind == 'ike' && !slots.ke)
		return _('Needs a key exchange group, e.g. modp2048 or curve25519');
	return null;
}

function parseIp4(text) {
	var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(String(text).trim());
	if (!m || m.slice(1).some(function(o) { return +o > 255; }))
		return null;
	return ((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0;
}

function ip4Text(n) {
	return [ n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255 ].join('.');
}

function maskOf(prefix) {
	return prefix ? (0xffffffff << (32 - prefix)) >>> 0 : 0;
}

// "a.b.c.d/n" -> { addr, prefix }; a bare address with `netmask` ("255.255.255.0") as LuCI's
// network config spells the LAN
function parseCidr4(text, netmask) {
	var parts = String(text).trim().split('/'), addr = parseIp4(parts[0]), prefix;
	if (addr == null || parts.length > 2)
		return null;
	if (parts.length == 2)
		prefix = /^\d{1,2}$/.test(parts[1]) && +parts[1] <= 32 ? +parts[1] : null;
	else if (netmask != null) {
		var m = parseIp4(netmask);
		prefix = m == null ? null : 32 - Math.log2(((~m) >>> 0) + 1);
		if (prefix != null && (!Number.isInteger(prefix) || maskOf(prefix) != m))
			prefix = null;
	}
	else
		prefix = 32;
	return prefix == null ? null : { addr: addr, prefix: prefix };
}

function netText(net) {
	return ip4Text((net.addr & maskOf(net.prefix)) >>> 0) + '/' + net.prefix;
}

function overlaps(a, b) {
	var mask = maskOf(Math.min(a.prefix, b.prefix));
	return ((a.addr & mask) >>> 0) == ((b.addr & mask) >>> 0);
}

// ikev2d.policy.validate: the pool is a network (no host bits) of the allowed size that
// overlaps neither a network offered to the devices (except 0.0.0.0/0) nor the LAN
function poolProblem(text, subnets, lan) {
	var o = schemaOption('server', 'pool'), net = parseCidr4(text);
	if (!net || String(text).indexOf('/') < 0)
		return _('A network like 10.10.10.0/24');
	if (net.prefix < o.min || net.prefix > o.max)
		return _('The size must be between /%d and /%d').format(o.min, o.max);
	if ((net.addr & ~maskOf(net.prefix)) >>> 0)
		return _('This is an address inside a network, not the network itself: use %s').format(netText(net));
	for (var i = 0; i < subnets.length; i++)
		if (subnets[i].prefix > 0 && overlaps(net, subnets[i]))
			return _('Overlaps %s, a network the devices reach').format(netText(subnets[i]));
	if (lan && overlaps(net, lan))
		return _('Overlaps the LAN (%s)').format(netText(lan));
	return null;
}

// A user's fixed address: a host address of the pool
function fixedIpProblem(text, poolText) {
	var ip = parseIp4(text), pool = parseCidr4(poolText || '');
	if (ip == null)
		return _('An IPv4 address like 10.10.10.20');
	if (!pool)
		return null;  // the pool's own field says what is wrong with it
	var mask = maskOf(pool.prefix), net = (pool.addr & mask) >>> 0, last = (net | ~mask) >>> 0;
	if (((ip & mask) >>> 0) != net || ip == net || ip == last)
		return _('Must be an address of the device pool %s, not its first or last').format(netText(pool));
	return null;
}

return baseclass.extend({
	schemaOption: schemaOption,
	pskProblem: pskProblem,
	proposalProblem: proposalProblem,
	parseCidr4: parseCidr4,
	poolProblem: poolProblem,
	fixedIpProblem: fixedIpProblem
});
