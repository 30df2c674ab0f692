'use strict';
'require view';
'require form';
'require rpc';
'require uci';
'require ui';
'require ikev2d.schema as schemamod';
'require ikev2d.checks as checks';

// Every field comes from the daemon's option schema (ikev2d/schema.js, generated from
// ikev2d.policy.schema): names, datatypes, choices and defaults cannot drift from what the
// daemon validates; ikev2d/checks.js applies the daemon's rules as the owner types, and
// Save & Apply first asks the daemon to check the whole configuration.
var SCHEMA = schemamod.schema, PRESETS = schemamod.presets;
// The secret options live in a UCI config of their own, in sections named like theirs, which
// only the write part of the ACL reaches: a read-only user never reads them
// (ikev2d.policy.uci_secrets).
var SECRETS = SCHEMA.secrets_config;

var callCheck = rpc.declare({ object: 'ikev2d', method: 'check', expect: { '': {} } });

// What each tab shows, in order; '_…' entries are helpers of this page, not options.
// The file paths (control_socket, pki_dir, state_dir) stay in /etc/config/ikev2d.
var TABS = {
	general: [ 'enabled', 'server_address', 'wan_interface' ],
	auth: [ 'auth_mode', 'psk', '_psk_generate', '_psk_strength', 'allow_weak_psk', '_users',
		'local_id_type', 'local_id', 'remote_id_type', 'remote_id' ],
	network: [ 'pool', 'pool6', 'dns', 'local_subnet', 'masquerade' ],
	proposals: [ '_preset', 'ike_proposal', 'esp_proposal', 'legacy_proposals', 'post_quantum' ],
	advanced: [ 'listen', 'port', 'natt_port', 'ike_lifetime', 'child_lifetime',
		'child_lifetime_bytes', 'dpd_delay', 'retransmit_timeout', 'retransmit_tries',
		'cookie_threshold', 'cookie_threshold_per_ip', 'max_half_open', 'max_half_open_per_ip',
		'mobike', 'fragmentation', 'fragment_size', 'log_level' ]
};
var HIDDEN = [ 'control_socket', 'pki_dir', 'state_dir' ];
var USER_COLUMNS = [ 'name', 'password', 'ip', 'enabled' ];

// The words a router owner reads: [ title, help ] per option. The schema's own help texts name
// options and are for /etc/config/ikev2d (docs/configuration.md).
var WORDS = {
	enabled: [ _('Enabled'), _('Run the VPN server.') ],
	server_address: [ _('Server address'), _('The public IP address or DNS name of this router, as devices reach it from the internet. Every device profile needs it.') ],
	wan_interface: [ _('Internet interface'), _('The interface devices connect from; the firewall opens the VPN ports there.') ],
	auth_mode: [ _('Devices log in with'), _('One key shared by all devices is quickest. Users with passwords let you remove one person and are needed for Windows; certificates need the command line (ikev2ctl pki).') ],
	psk: [ _('Pre-shared key'), _('At least 20 characters; the button makes a random one. Everyone who sets up a device sees it: share it privately.') ],
	allow_weak_psk: [ _('Allow a weak key'), _('Accept a short or guessable key anyway. Not recommended: anyone who tries to connect once can then guess a weak key offline.') ],
	local_id_type: [ _('Server identity type'), _('How the server names itself to devices. Leave it unless a device needs something else.') ],
	local_id: [ _('Server identity'), _('Empty: the server address. A device asking for the server address or for one of these gets exactly that identity back.') ],
	remote_id_type: [ _('Required device identity type'), _('"Any" accepts every device identity.') ],
	remote_id: [ _('Required device identity'), _('Devices must present exactly this identity.') ],
	pool: [ _('Addresses for devices'), _('The network connected devices get their addresses from. It must not overlap the LAN.') ],
	pool6: [ _('IPv6 addresses for devices'), _('Empty: a network of this router\'s own IPv6 (ULA) prefix. "off": devices get no IPv6 through the tunnel.') ],
	dns: [ _('DNS servers for devices'), _('Empty: this router.') ],
	local_subnet: [ _('Networks devices reach'), _('Empty: the LAN (IPv4 and IPv6). 0.0.0.0/0: all traffic of the devices, IPv6 too, goes through this router (then also tick the next option).') ],
	masquerade: [ _('Internet through this router'), _('Devices reach the internet through this router when all their traffic comes here.') ],
	ike_proposal: [ _('Key exchange algorithms'), _('Most preferred first, like aes256-sha256-modp2048.') ],
	esp_proposal: [ _('Tunnel algorithms'), _('Most preferred first, like aes256-sha256 or aes256gcm16.') ],
	legacy_proposals: [ _('Allow Windows\' old algorithms'), _('Lets Windows connect with its built-in defaults: MODP1024 (a key exchange well-funded attackers can break), SHA-1 and 3DES. Better: log in with users and passwords, and run the Windows profile from the Status page, which sets strong algorithms.') ],
	post_quantum: [ _('Post-quantum protection'), _('A post-quantum key exchange (ML-KEM) next to the classic one, so that recorded traffic cannot be decrypted later by a quantum computer. iPhone, iPad and Mac (version 26 and later) and strongSwan 6 use it when the server offers it. Required refuses devices without it.') ],
	listen: [ _('Listen addresses'), _('Empty: every address of this router.') ],
	port: [ _('Port'), _('The UDP port devices connect to. Change it only if your devices are set up for another one.') ],
	natt_port: [ _('Port behind NAT'), _('The UDP port used when a device is behind NAT.') ],
	ike_lifetime: [ _('Renew login keys after (seconds)'), _('How long the keys of a login are used.') ],
	child_lifetime: [ _('Renew tunnel keys after (seconds)'), _('How long the keys of a tunnel are used.') ],
	child_lifetime_bytes: [ _('Renew tunnel keys after (bytes)'), _('0: no limit.') ],
	dpd_delay: [ _('Check quiet devices after (seconds)'), _('A device that sent nothing for this long is asked whether it is still there; 0: never.') ],
	retransmit_timeout: [ _('First repeat after (seconds)'), _('An unanswered message is sent again after this long, then after twice as long, and so on.') ],
	retransmit_tries: [ _('Sends before giving up'), _('A device that answers none of them is disconnected.') ],
	cookie_threshold: [ _('Flood protection from'), _('Above this many unfinished logins, devices must first prove their address; 0: always.') ],
	cookie_threshold_per_ip: [ _('Flood protection per address from'), _('Above this many unfinished logins from one address, its devices must first prove their address; 0: always.') ],
	max_half_open: [ _('Unfinished logins at most'), _('Further attempts are dropped.') ],
	max_half_open_per_ip: [ _('Unfinished logins per address at most'), _('Further attempts from that address are dropped.') ],
	mobike: [ _('Keep the connection when a device changes network'), _('From Wi-Fi to mobile data and back (MOBIKE).') ],
	fragmentation: [ _('Split large messages'), _('Some networks drop large messages, such as those carrying certificates.') ],
	fragment_size: [ _('Largest message part (bytes)'), _('Smaller parts pass more networks.') ],
	log_level: [ _('Log level'), _('How much the server writes to the system log.') ]
};
var USER_WORDS = {  // table columns: the titles say enough
	name: [ _('User name'), null ], password: [ _('Password'), null ],
	ip: [ _('Fixed address'), null ], enabled: [ _('Enabled'), null ]
};
var CHOICES = {
	auth_mode: { psk: _('A pre-shared key'), eap: _('User names and passwords'), cert: _('Certificates') },
	local_id_type: { auto: _('Automatic (from the value)'), fqdn: _('DNS name'), ipv4: _('IPv4 address'),
		ipv6: _('IPv6 address'), 'user-fqdn': _('E-mail style name'), 'key-id': _('Free text') },
	remote_id_type: { any: _('Any'), fqdn: _('DNS name'), ipv4: _('IPv4 address'), ipv6: _('IPv6 address'),
		'user-fqdn': _('E-mail style name'), 'key-id': _('Free text') },
	post_quantum: { off: _('Off'), preferred: _('When the device supports it'), required: _('Required (refuse devices without it)') },
	log_level: { debug: _('Everything (debugging)'), info: _('Normal'), warning: _('Warnings and errors'), error: _('Errors only') }
};
var PLACEHOLDERS = {
	server_address: _('vpn.example.com or 203.0.113.7'),
	local_id: _('the server address'),
	remote_id: _('e.g. phone@example.com'),
	dns: _('this router'),
	local_subnet: _('the LAN'),
	listen: _('every address'),
	ip: _('any free address')
};
var PSK_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function generatePsk(length) {
	var bytes = new Uint8Array(length), out = '';
	window.crypto.getRandomValues(bytes);
	for (var i = 0; i < length; i++)
		out += PSK_ALPHABET.charAt(bytes[i] % PSK_ALPHABET.length);  // 57 symbols: bias < 2 %
	return out;
}

function pskStrength(value) {
	var classes = 0;
	[ /[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/ ].forEach(function(re) { if (re.test(value)) classes++; });
	if (value.length < 20 || classes < 2)
		return _('weak');
	return (value.length >= 32 && classes >= 3) ? _('strong') : _('fair');
}

function listOf(value) {
	return (Array.isArray(value) ? value : String(value || '').split(/\s+/)).filter(function(x) { return x; });
}

// The LAN as /etc/config/network has it (a static lan interface), or null when unknown
function lanNetwork() {
	if ((uci.get('network', 'lan', 'proto') || 'static') != 'static')
		return null;
	var first = listOf(uci.get('network', 'lan', 'ipaddr'))[0];
	var net = first ? checks.parseCidr4(first, first.indexOf('/') < 0 ? uci.get('network', 'lan', 'netmask') : null) : null;
	return net && net.prefix < 32 ? net : null;
}

// The daemon's rules (ikev2d/checks.js) for the options that need more than a LuCI datatype;
// `this` is the option. They replace the datatype: LuCI runs a custom check after the datatype
// with the value the datatype left behind (for cidr4: only the prefix, "24").
var CHECKS = {
	psk: function(section_id, value) {
		var hint = document.getElementById('ikev2d-psk-strength'), f = this.section;
		if (hint)
			hint.textContent = value ? pskStrength(value) : '';
		if (!value)
			return (f.formvalue(section_id, 'enabled') == '1') ? _('Needed to run the server with a pre-shared key') : true;
		return checks.pskProblem(value, f.formvalue(section_id, 'allow_weak_psk') == '1') || true;
	},
	ike_proposal: function(section_id, value) {
		var legacy = this.section.formvalue(section_id, 'legacy_proposals') == '1';
		return !value || checks.proposalProblem(value, 'ike', legacy) || true;
	},
	esp_proposal: function(section_id, value) {
		var legacy = this.section.formvalue(section_id, 'legacy_proposals') == '1';
		return !value || checks.proposalProblem(value, 'esp', legacy) || true;
	},
	pool: function(section_id, value) {
		var subnets = listOf(this.section.formvalue(section_id, 'local_subnet'))
			.map(function(n) { return checks.parseCidr4(n); }).filter(function(n) { return n; });
		return !value || checks.poolProblem(value, subnets, lanNetwork()) || true;
	},
	ip: function(section_id, value) {
		// in the user's edit dialog, this.map is the dialog's own map; the page is its parent
		var found = (this.map.parent || this.map).lookupOption('pool', 'server');
		var pool = found ? found[0].formvalue('server') : uci.get('ikev2d', 'server', 'pool');
		return !value || checks.fixedIpProblem(value, pool || checks.schemaOption('server', 'pool').uci_default) || true;
	}
};

// A secret option: kept in SECRETS under its section's name (made there when missing). One
// still in the main config (from before the secrets file) is shown, and moves when saved.
var SECRET_OPTION = {
	uciconfig: SECRETS,
	cfgvalue: function(section_id) {
		var v = uci.get(SECRETS, section_id, this.option);
		return v != null ? v : uci.get('ikev2d', section_id, this.option);
	},
	write: function(section_id, value) {
		if (!uci.get(SECRETS, section_id))
			uci.add(SECRETS, uci.get('ikev2d', section_id)['.type'], section_id);
		uci.set(SECRETS, section_id, this.option, value);
		uci.unset('ikev2d', section_id, this.option);
	},
	remove: function(section_id) {
		uci.unset(SECRETS, section_id, this.option);
		uci.unset('ikev2d', section_id, this.option);
	}
};

function randomHex(bytes) {
	var buf = new Uint8Array(bytes);
	window.crypto.getRandomValues(buf);
	return Array.prototype.map.call(buf, function(b) { return ('0' + b.toString(16)).slice(-2); }).join('');
}

// One widget per schema option, with the schema's datatype, choices and default, in words.
function addOption(s, tab, section, name) {
	var o = checks.schemaOption(section, name), widget;
	if (o.type == 'bool')
		widget = form.Flag;
	else if (o.choices.length)
		widget = form.ListValue;
	else if (o.list)
		widget = form.DynamicList;
	else
		widget = form.Value;
	var words = (section == 'user' ? USER_WORDS : WORDS)[name] || [];
	var opt = tab ? s.taboption(tab, widget, o.name, words[0], words[1]) : s.option(widget, o.name, words[0], words[1]);
	if (CHECKS[name])
		opt.validate = CHECKS[name];
	else if (o.datatype && o.type != 'bool')
		opt.datatype = o.datatype;
	o.choices.forEach(function(c) { opt.value(c, (CHOICES[o.name] || {})[c] || c); });
	if (o.type == 'bool') {
		opt.default = o.uci_default;
		opt.rmempty = false;
	}
	else if (o.uci_default != null) {
		opt.default = o.uci_default;  // lists too: the daemon takes lists equal to it as its default
	}
	if (!o.choices.length && o.type != 'bool')
		opt.placeholder = PLACEHOLDERS[name] || (o.uci_default != null && !o.list ? o.uci_default : null);
	if (o.secret)
		Object.assign(opt, SECRET_OPTION, { password: true });
	return opt;
}

return view.extend({
	load: function() {
		return Promise.all([ uci.load('ikev2d'), L.resolveDefault(uci.load('network')) ]);
	},

	// The key, its generator and strength hint (the weak-key toggle relaxes its check)
	psk: function(s) {
		var psk = addOption(s, 'auth', 'server', 'psk');
		// LuCI looks a plain dependency up in the option's own config (SECRETS): name it fully
		psk.depends('ikev2d.server.auth_mode', 'psk');
		return psk;
	},

	pskGenerate: function(s) {
		var gen = s.taboption('auth', form.Button, '_psk_generate', _('Generate key'));
		gen.inputtitle = _('Generate a random key');
		gen.inputstyle = 'action';
		gen.depends('auth_mode', 'psk');
		gen.onclick = function(ev, section_id) {
			var el = this.map.lookupOption('psk', section_id, SECRETS)[0].getUIElement(section_id);
			el.setValue(generatePsk(32));
			el.triggerValidation();
		};
		return gen;
	},

	pskStrength: function(s) {
		var hint = s.taboption('auth', form.DummyValue, '_psk_strength', _('Key strength'));
		hint.depends('auth_mode', 'psk');
		hint.rawhtml = true;  // our own markup; the strength word is escaped with %h
		hint.cfgvalue = function(section_id) {
			var key = uci.get('ikev2d', section_id, 'psk');
			return '<span id="ikev2d-psk-strength">%h</span>'.format(key ? pskStrength(key) : '');
		};
		return hint;
	},

	// The users, on the Authentication tab and only when devices log in with them
	users: function(s) {
		var o = s.taboption('auth', form.SectionValue, '_users', form.GridSection, 'user', _('Users'),
			_('Each person or device logs in with its own name and password.'));
		o.depends('auth_mode', 'eap');
		var u = o.subsection;
		u.anonymous = true;
		u.addremove = true;
		u.sortable = true;
		// named sections, so that a password in SECRETS follows its user
		u.handleAdd = function(ev) {
			return form.GridSection.prototype.handleAdd.call(this, ev, 'user_' + randomHex(4));
		};
		u.handleRemove = function(section_id, ev) {
			uci.remove(SECRETS, section_id);
			return form.GridSection.prototype.handleRemove.call(this, section_id, ev);
		};
		USER_COLUMNS.forEach(function(name) {
			var opt = addOption(u, null, 'user', name);
			if (name == 'password')
				opt.modalonly = true;  // never list passwords in the table
		});
		return o;
	},

	preset: function(s) {
		var preset = s.taboption('proposals', form.ListValue, '_preset', _('Preset'),
			_('Fills both lists below; choose "Custom" to edit them freely.'));
		PRESETS.forEach(function(p) { preset.value(p.id, p.label); });
		preset.value('custom', _('Custom'));
		preset.cfgvalue = function(section_id) {
			var ike = L.toArray(uci.get('ikev2d', section_id, 'ike_proposal')).join(' ');
			var esp = L.toArray(uci.get('ikev2d', section_id, 'esp_proposal')).join(' ');
			for (var i = 0; i < PRESETS.length; i++)
				if (PRESETS[i].ike.join(' ') == ike && PRESETS[i].esp.join(' ') == esp)
					return PRESETS[i].id;
			return (ike || esp) ? 'custom' : 'default';
		};
		preset.write = preset.remove = function() {};  // only a helper for the two lists
		preset.onchange = function(ev, section_id, value) {
			var p = PRESETS.filter(function(x) { return x.id == value; })[0];
			if (!p)
				return;
			this.map.lookupOption('ike_proposal', section_id)[0].getUIElement(section_id).setValue(p.ike);
			this.map.lookupOption('esp_proposal', section_id)[0].getUIElement(section_id).setValue(p.esp);
		};
		return preset;
	},

	addTab: function(s, tab) {
		var self = this, helpers = {
			psk: this.psk, _psk_generate: this.pskGenerate, _psk_strength: this.pskStrength,
			_users: this.users, _preset: this.preset
		};
		TABS[tab].forEach(function(name) {
			var opt = helpers[name] ? helpers[name].call(self, s) : addOption(s, tab, 'server', name);
			if (name == 'allow_weak_psk' || name == 'enabled')
				opt.onchange = function(ev, section_id) {  // the key's check depends on them
					var key = this.map.lookupOption('psk', section_id, SECRETS)[0].getUIElement(section_id);
					key && key.triggerValidation();
				};
			if (name == 'allow_weak_psk')
				opt.depends('auth_mode', 'psk');
			if (name == 'remote_id')
				opt.depends({ remote_id_type: 'any', '!reverse': true });
		});
	},

	render: function() {
		var m = new form.Map('ikev2d', _('IKEv2 VPN Server'),
			_('A VPN server for the built-in VPN of phones and computers. Save & Apply, then download a profile for each device on the Status page.'));
		m.chain(SECRETS);  // unreadable for a read-only user: the secret fields stay empty
		var s = m.section(form.NamedSection, 'server', 'ikev2d', _('Server'));
		s.addremove = false;
		s.tab('general', _('General'));
		s.tab('auth', _('Authentication'));
		s.tab('network', _('Network'));
		s.tab('proposals', _('Algorithms'));
		s.tab('advanced', _('Advanced'));
		Object.keys(TABS).forEach(this.addTab.bind(this, s));
		return m.render();
	},

	// Save, then let the daemon check what Save & Apply would commit: a configuration it
	// refuses is not applied without the owner seeing why.
	handleSaveApply: function(ev, mode) {
		var self = this;
		return this.handleSave(ev).then(function() {
			return callCheck();
		}).then(function(res) {
			var r = res && res.ok !== false ? res.result : null;
			if (!r) {
				ui.addNotification(null, E('p', {}, [ _('The settings could not be checked (%s); they are applied unchecked.').format((res && res.error) || _('no answer')) ]), 'warning');
				return ui.changes.apply(mode == '0');
			}
			if (r.valid) {
				(r.warnings || []).forEach(function(w) {
					ui.addNotification(null, E('p', {}, [ _('Note: %s').format(w) ]), 'warning');
				});
				return ui.changes.apply(mode == '0');
			}
			self.showProblems(r.problems || [], mode);
		});
	},

	showProblems: function(problems, mode) {
		ui.showModal(_('The VPN server would refuse these settings'), [
			E('p', {}, [ _('Nothing was applied. Correct the following, then Save & Apply again:') ]),
			E('ul', {}, problems.map(function(p) { return E('li', {}, [ E('code', { 'style': 'white-space: pre-wrap' }, [ String(p) ]) ]); })),
			E('p', {}, [ _('Your changes are kept (saved, not applied). Applying them anyway stops the VPN server until they are corrected.') ]),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn cbi-button-negative', 'click': function() {
					ui.hideModal();
					return ui.changes.apply(mode == '0');
				} }, [ _('Apply anyway') ]), ' ',
				E('button', { 'class': 'btn cbi-button-action', 'click': ui.hideModal }, [ _('Back to the settings') ])
			])
		]);
	}
});
