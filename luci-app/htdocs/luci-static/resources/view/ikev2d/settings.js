'use strict';
'require view';
'require form';
'require uci';
'require ui';
'require ikev2d.schema as schemamod';

// Every field comes from the daemon's option schema (ikev2d/schema.js, generated from
// ikev2d.policy.schema): names, datatypes, choices and defaults cannot drift from what the
// daemon validates.
var SCHEMA = schemamod.schema, PRESETS = schemamod.presets;

var TABS = {
	general: [ 'enabled', 'wan_interface', 'server_address' ],
	auth: [ 'auth_mode', 'psk', 'allow_weak_psk', 'local_id_type', 'local_id',
		'remote_id_type', 'remote_id' ],
	network: [ 'pool', 'dns', 'local_subnet', 'masquerade' ],
	proposals: [ 'ike_proposal', 'esp_proposal', 'legacy_proposals' ],
	advanced: [ 'listen', 'port', 'natt_port', 'ike_lifetime', 'child_lifetime',
		'child_lifetime_bytes', 'dpd_delay', 'retransmit_timeout', 'retransmit_tries',
		'cookie_threshold', 'max_half_open', 'max_half_open_per_ip', 'mobike',
		'fragmentation', 'fragment_size', 'log_level', 'control_socket', 'pki_dir',
		'state_dir' ]
};
var USER_COLUMNS = [ 'name', 'password', 'ip', 'enabled' ];
// Labels a router owner reads; the option names stay those of the schema.
var TITLES = {
	wan_interface: _('WAN interface'), server_address: _('Server address'),
	auth_mode: _('Authentication'), psk: _('Pre-shared key'), allow_weak_psk: _('Allow a weak key'),
	local_id_type: _('Local ID type'), local_id: _('Local ID'),
	remote_id_type: _('Remote ID type'), remote_id: _('Remote ID'),
	pool: _('Client address pool'), dns: _('DNS servers'), local_subnet: _('Networks offered'),
	masquerade: _('Masquerade to WAN'), ike_proposal: _('IKE proposals'),
	esp_proposal: _('ESP proposals'), legacy_proposals: _('Legacy Windows algorithms'),
	listen: _('Listen addresses'), port: _('IKE port'), natt_port: _('NAT-T port'),
	ike_lifetime: _('IKE SA lifetime (s)'), child_lifetime: _('Tunnel lifetime (s)'),
	child_lifetime_bytes: _('Tunnel lifetime (bytes)'), dpd_delay: _('Dead peer detection (s)'),
	mobike: _('MOBIKE'), fragment_size: _('Fragment size'), log_level: _('Log level'),
	ip: _('Fixed IP'), name: _('User name'), password: _('Password')
};
var CHOICE_LABELS = {
	auth_mode: { psk: _('Pre-shared key (psk)'), eap: _('Users: name and password (eap)'),
		cert: _('Certificates (cert)') }
};
var PSK_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function schemaOption(section, name) {
	for (var i = 0; i < SCHEMA.options.length; i++)
		if (SCHEMA.options[i].section == section && SCHEMA.options[i].name == name)
			return SCHEMA.options[i];
	throw new Error('option ' + section + '.' + name + ' is not in the schema');
}

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

function validateProposal(section_id, value) {
	if (value == null || value === '')
		return true;
	var known = [];
	Object.keys(SCHEMA.keywords).forEach(function(k) { known = known.concat(SCHEMA.keywords[k]); });
	var parts = String(value).toLowerCase().split('-');
	for (var i = 0; i < parts.length; i++)
		if (known.indexOf(parts[i]) < 0)
			return _('Unknown algorithm "%s"').format(parts[i]);
	return true;
}

// One widget per schema option, with the schema's datatype, choices, default and help.
function addOption(s, tab, section, name) {
	var o = schemaOption(section, name), widget;
	if (o.type == 'bool')
		widget = form.Flag;
	else if (o.choices.length)
		widget = form.ListValue;
	else if (o.list)
		widget = form.DynamicList;
	else
		widget = form.Value;
	var title = TITLES[o.name];
	if (!title) {
		title = o.name.replace(/_/g, ' ');
		title = _(title.charAt(0).toUpperCase() + title.slice(1));
	}
	var opt = tab ? s.taboption(tab, widget, o.name, title, _(o.help))
		: s.option(widget, o.name, title, _(o.help));
	if (o.datatype && o.type != 'bool')
		opt.datatype = o.datatype;
	o.choices.forEach(function(c) { opt.value(c, (CHOICE_LABELS[o.name] || {})[c] || c); });
	if (o.type == 'bool') {
		opt.default = o.uci_default;
		opt.rmempty = false;
	}
	else if (o.uci_default != null && !o.list) {
		opt.default = o.uci_default;
	}
	if (!o.choices.length && o.type != 'bool' && !o.list)  // a list's add-field takes one value
		opt.placeholder = o.uci_default != null ? o.uci_default : o.default_doc.split(/ \(|;/)[0];
	if (o.secret)
		opt.password = true;
	if (o.type == 'proposal')
		opt.validate = validateProposal;
	return opt;
}

return view.extend({
	load: function() {
		return uci.load('ikev2d');
	},

	renderAuth: function(s) {
		var psk = s.children.filter(function(o) { return o.option == 'psk'; })[0];
		psk.depends('auth_mode', 'psk');
		psk.description = _('At least 20 characters; 32 random ones are best.') + ' '
			+ _('It is shown to anyone who sets up a client: share it privately.');
		psk.validate = function(section_id, value) {
			var hint = document.getElementById('ikev2d-psk-strength');
			if (hint)
				hint.textContent = value ? pskStrength(value) : '';
			return true;  // the datatype (minlength) and the daemon decide
		};
		var gen = s.taboption('auth', form.Button, '_psk_generate', _('Generate key'));
		gen.inputtitle = _('Generate a random key');
		gen.inputstyle = 'action';
		gen.depends('auth_mode', 'psk');
		gen.onclick = function(ev, section_id) {
			var el = this.map.lookupOption('psk', section_id)[0].getUIElement(section_id);
			el.setValue(generatePsk(32));
			el.triggerValidation && el.triggerValidation();
		};
		var hint = s.taboption('auth', form.DummyValue, '_psk_strength', _('Key strength'));
		hint.depends('auth_mode', 'psk');
		hint.rawhtml = true;  // our own markup; the strength word is escaped with %h
		hint.cfgvalue = function(section_id) {
			var key = uci.get('ikev2d', section_id, 'psk');
			return '<span id="ikev2d-psk-strength">%h</span>'.format(key ? pskStrength(key) : '');
		};
		// the generator and the hint belong right under the key
		[ hint, gen ].forEach(function(o) {
			s.children.splice(s.children.indexOf(o), 1);
			s.children.splice(s.children.indexOf(psk) + 1, 0, o);
		});
		s.children.filter(function(o) { return o.option == 'allow_weak_psk'; })[0]
			.depends('auth_mode', 'psk');
		s.children.filter(function(o) { return o.option == 'remote_id'; })[0]
			.depends({ remote_id_type: 'any', '!reverse': true });
	},

	renderProposals: function(s) {
		var preset = s.taboption('proposals', form.ListValue, '_preset', _('Preset'),
			_('Fills both lists below; choose "custom" to edit them freely.'));
		PRESETS.forEach(function(p) { preset.value(p.id, p.label); });
		preset.value('custom', _('custom'));
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
		// keep the preset first on the tab
		s.children.splice(s.children.indexOf(preset), 1);
		var first = s.children.filter(function(o) { return o.option == 'ike_proposal'; })[0];
		s.children.splice(s.children.indexOf(first), 0, preset);
		var legacy = s.children.filter(function(o) { return o.option == 'legacy_proposals'; })[0];
		legacy.description = _('Lets Windows connect with its built-in defaults: MODP1024 (a 1024-bit Diffie-Hellman group that well-funded attackers can break), SHA-1 and 3DES. Prefer the Windows PowerShell profile from the Status page, which sets strong algorithms instead.');
	},

	render: function() {
		var m = new form.Map('ikev2d', _('IKEv2 VPN Server'),
			_('An IKEv2/IPsec server for the phones and laptops built-in VPN clients. Save & Apply, then download client profiles on the Status page.'));
		var s = m.section(form.NamedSection, 'server', 'ikev2d', _('Server'));
		s.addremove = false;
		s.tab('general', _('General'));
		s.tab('auth', _('Authentication'));
		s.tab('network', _('Network'));
		s.tab('proposals', _('Proposals'));
		s.tab('advanced', _('Advanced'));
		Object.keys(TABS).forEach(function(tab) {
			TABS[tab].forEach(function(name) { addOption(s, tab, 'server', name); });
		});
		this.renderAuth(s);
		this.renderProposals(s);
		var lan = s.children.filter(function(o) { return o.option == 'local_subnet'; })[0];
		lan.description += ' ' + _('Empty: the LAN. 0.0.0.0/0: full tunnel (then enable masquerade).');

		var u = m.section(form.GridSection, 'user', _('Users'),
			_('Logins for authentication mode "eap" (user name and password).'));
		u.anonymous = true;
		u.addremove = true;
		u.sortable = true;
		USER_COLUMNS.forEach(function(name) {
			var o = addOption(u, null, 'user', name);
			o.description = null;  // no help row in the table; the names say enough
			if (name == 'password')
				o.modalonly = true;  // never list passwords in the table
		});
		return m.render();
	}
});
