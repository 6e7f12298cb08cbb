-- konce.lua - a Wireshark / tshark dissector for every konce datagram on the wire.
--
-- Load it with `wireshark -X lua_script:tools/wireshark/konce.lua` (or tshark), or copy it to
-- ~/.local/lib/wireshark/plugins/.  docs/DISSECTOR.md says what it shows and what it cannot.
--
-- Layouts come from node/base/wire.h (the normative offsets), node/transport/hs_packets.c, nat/rdvwire.c and
-- nat/probewire.c; each check below mirrors the C parser's, so a packet the dissector calls
-- well formed is one konce would accept, and anything else gets an expert-info item
-- (konce.malformed) instead of a Lua error.  Byte 0 is the type:
--   0x01 HELLO  0x02 COOKIE  0x03 INITIATE  0x04 ACCEPT  0x05 DATA  0x06 VERSION   (handshake, session)
--   0x40 .. 0x4a  rendezvous and traversal (REGISTER ... FILTER, INTRO_OFFER; PUNCH is 0x47)
--   0x4c .. 0x4e  mapping lifetime experiments (LIFE_REQ, LIFE_ACK, LIFE_PROBE)
--   0x4f          INTRO_ACCEPT (traversal; on sessions only, like INTRO_OFFER)
--   "KPRB"        the konce probe (konce probe send / listen), also in ICMP echoes and TCP SYNs
-- Session payloads (INITIATE boxes, ACCEPT, DATA) are encrypted; they are shown as ciphertext and
-- Poly1305 tag, never decoded.
--
-- Registration: UDP port 7807 (the default; preference konce.port), and a heuristic dissector on
-- UDP for the ports that NATs, extra punch sockets and probe sockets pick at random.  The heuristic
-- claims a datagram only if the C parser would accept it; ACCEPT and DATA, whose fixed headers are
-- short, are claimed only on a conversation or for a connection id already seen in a konce
-- handshake.  A GSO train (several datagrams in one captured UDP payload) is split back into its
-- datagrams.  One file, so that `-X lua_script:` and the plugin folder both take it as it is.

local konce = Proto("konce", "konce peer-to-peer protocol")

local bit = bit32 or bit
local band = bit.band

local PORT = 7807
local MAX_DATAGRAM = 1200
-- DATA alone may be larger: up to a session's path MTU (node/base/wire.h KONCE_PMTU_MAX)
local MAX_DATA = 8972
local TAG = 16

-- ---------------------------------------------------------------------------------------------
-- Names.

local HELLO, COOKIE, INITIATE, ACCEPT, DATA, VERSION = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
local REGISTER, REGISTERED, INTRO_REQUEST, INTRO, INTRO_FAIL = 0x40, 0x41, 0x42, 0x43, 0x44
local RELAY, RELAYED, PUNCH, INTRO_REFUSE, FILTER = 0x45, 0x46, 0x47, 0x48, 0x49
local LIFE_REQ, LIFE_ACK, LIFE_PROBE = 0x4c, 0x4d, 0x4e
local INTRO_OFFER, INTRO_ACCEPT = 0x4a, 0x4f
local PROBE_MAGIC = 0x4b505242 -- "KPRB"

local type_names = {
	[HELLO] = "HELLO", [COOKIE] = "COOKIE", [INITIATE] = "INITIATE", [ACCEPT] = "ACCEPT",
	[DATA] = "DATA", [VERSION] = "VERSION",
	[REGISTER] = "REGISTER", [REGISTERED] = "REGISTERED", [INTRO_REQUEST] = "INTRO_REQUEST",
	[INTRO] = "INTRO", [INTRO_FAIL] = "INTRO_FAIL", [RELAY] = "RELAY", [RELAYED] = "RELAYED",
	[PUNCH] = "PUNCH", [INTRO_REFUSE] = "INTRO_REFUSE", [FILTER] = "FILTER",
	[0x4b] = "PROBE",
	[LIFE_REQ] = "LIFE_REQ", [LIFE_ACK] = "LIFE_ACK", [LIFE_PROBE] = "LIFE_PROBE",
	[INTRO_OFFER] = "INTRO_OFFER", [INTRO_ACCEPT] = "INTRO_ACCEPT",
}
local cand_names = { [1] = "host", [2] = "reflexive", [3] = "port-mapped" }
local natmap_names = { [0] = "unknown", [1] = "endpoint-independent", [2] = "endpoint-dependent, sequential",
	[3] = "endpoint-dependent, random" }
local ifail_names = { [1] = "unknown target", [2] = "refused", [3] = "relay table full", [4] = "declined by target" }
local filt_names = { [1] = "ECHO_REQ", [2] = "ECHO", [3] = "ASK", [4] = "ASK_ALT", [5] = "PROBE", [6] = "SENT" }
local probe_type_names = { [1] = "REQUEST", [2] = "REPLY" }
local probe_cmd_names = { [1] = "same", [2] = "other-port", [3] = "other-addr", [4] = "display", [5] = "reply-to-port" }
local probe_tr_names = { [0] = "unset", [1] = "udp", [2] = "icmp", [3] = "tcp" }

-- ---------------------------------------------------------------------------------------------
-- Fields.  Filter names are konce.<packet>.<field>; konce.packet names every datagram.

local F = {}
local function field(key, ctor, abbr, ...)
	F[key] = ctor("konce." .. abbr, ...)
end

field("packet", ProtoField.string, "packet", "Packet")
field("type", ProtoField.uint8, "type", "Type", base.HEX, type_names)
field("flags", ProtoField.uint8, "flags", "Flags", base.HEX)
field("reserved", ProtoField.bytes, "reserved", "Reserved")
field("nversions", ProtoField.uint8, "nversions", "Versions")
field("version", ProtoField.uint16, "version", "Version")
field("versions", ProtoField.bytes, "versions", "Version slots")
field("client_cid", ProtoField.bytes, "client_cid", "Client connection id")
field("server_cid", ProtoField.bytes, "server_cid", "Server connection id")
field("client_time", ProtoField.uint64, "client_time", "Client steady time (ms)")
field("server_time", ProtoField.uint64, "server_time", "Server steady time (ms)")
field("challenge", ProtoField.uint64, "challenge", "Challenge", base.HEX)
field("pow_bits", ProtoField.uint8, "pow_bits", "Proof-of-work demand (bits)")
field("key_id", ProtoField.uint8, "key_id", "Key generation")
field("clue", ProtoField.bytes, "clue", "Group clue")
field("mac", ProtoField.bytes, "mac", "Cookie MAC")
field("padding", ProtoField.bytes, "padding", "Padding")

field("hello_f_clue", ProtoField.uint8, "hello.flags.clue", "Clue present", base.DEC, nil, 0x01)
field("trav_magic", ProtoField.string, "hello.trav.magic", "Traversal tag")
field("trav_key", ProtoField.bytes, "hello.trav.key", "Sender's public key")
field("trav_intro", ProtoField.uint64, "hello.trav.intro", "Introduction id", base.HEX)
field("trav_mac", ProtoField.bytes, "hello.trav.mac", "Tag MAC (keyed with the INTRO's secret)")
field("intro_secret", ProtoField.bytes, "intro.secret", "Probe key (the same in both INTROs)")
field("punch_mac", ProtoField.bytes, "punch.mac", "MAC (keyed with the INTRO's secret)")

field("cookie_f_masked", ProtoField.uint8, "cookie.flags.masked", "Server key masked (limited circulation)",
	base.DEC, nil, 0x01)
field("server_epk", ProtoField.bytes, "cookie.server_epk", "Server transient public key")

field("client_epk", ProtoField.bytes, "initiate.client_epk", "Client transient public key")
field("pow_nonce", ProtoField.uint64, "initiate.pow_nonce", "Proof-of-work nonce", base.HEX)
field("box1", ProtoField.bytes, "initiate.box1", "Box 1")
field("box2", ProtoField.bytes, "initiate.box2", "Box 2")

field("data_f_key_phase", ProtoField.uint8, "data.flags.key_phase", "Key phase", base.DEC, nil, 0x01)
field("dcid", ProtoField.bytes, "data.dcid", "Destination connection id")
field("pn_window", ProtoField.bytes, "data.pn_window", "Packet number window")
field("pn_len", ProtoField.uint8, "data.pn_len", "Packet number window length (bytes)")
field("pn_bits", ProtoField.uint8, "data.pn_bits", "Packet number bits visible")
field("pn_low", ProtoField.uint64, "data.pn", "Packet number (low bits)")
field("sealed", ProtoField.bytes, "sealed", "Sealed payload")
field("ciphertext", ProtoField.bytes, "encrypted", "Ciphertext")
field("ciphertext_len", ProtoField.uint16, "encrypted.len", "Ciphertext length")
field("tag", ProtoField.bytes, "tag", "AEAD tag (Poly1305)")

field("key_text", ProtoField.string, "key_text", "Key as konce prints it")
field("key", ProtoField.bytes, "rdv.key", "Public key")
field("target", ProtoField.bytes, "rdv.target", "Target key")
field("txid", ProtoField.uint64, "rdv.txid", "Transaction id", base.HEX)
field("echo", ProtoField.uint64, "rdv.echo", "Echoed stamp (us)")
field("stamp", ProtoField.uint64, "rdv.stamp", "Rendezvous stamp (us)")
field("refresh", ProtoField.uint32, "rdv.refresh", "Register again within (ms)")
field("ncand", ProtoField.uint8, "rdv.ncand", "Candidates")
field("nat_map", ProtoField.uint8, "rdv.nat.mapping", "NAT mapping", base.DEC, natmap_names)
field("nat_step", ProtoField.uint8, "rdv.nat.step", "Port step")
field("nat_last", ProtoField.uint16, "rdv.nat.last_port", "Last mapped port")
field("cand_type", ProtoField.uint8, "rdv.cand.type", "Candidate type", base.DEC, cand_names)
field("intro_f_init", ProtoField.uint8, "rdv.intro.initiator", "You asked for this introduction",
	base.DEC, nil, 0x01)
field("intro_id", ProtoField.uint64, "rdv.intro_id", "Introduction id", base.HEX)
field("intro_delay", ProtoField.uint32, "rdv.intro.delay", "First probe after (us)")
field("ifail_reason", ProtoField.uint8, "rdv.intro_fail.reason", "Reason", base.DEC, ifail_names)
field("relay_len", ProtoField.uint16, "rdv.relay.len", "Payload length")
field("relay_payload", ProtoField.bytes, "rdv.relay.payload", "Payload (a konce datagram)")
field("punch_f_ack", ProtoField.uint8, "punch.ack", "Acknowledgement", base.DEC, nil, 0x01)
field("punch_seq", ProtoField.uint16, "punch.seq", "Probe number")
field("filt_op", ProtoField.uint8, "filter.op", "Operation", base.DEC, filt_names)
field("filt_token", ProtoField.uint64, "filter.token", "Token", base.HEX)
field("life_busy", ProtoField.uint8, "life.busy", "Busy (no probe will come)", base.DEC, nil, 0x01)
field("life_copy", ProtoField.uint8, "life.copy", "Copy")
field("life_nonce", ProtoField.uint64, "life.nonce", "Nonce", base.HEX)
field("life_delay", ProtoField.uint32, "life.delay", "Delay (ms)")

field("addr_v4", ProtoField.ipv4, "addr.ipv4", "Address")
field("addr_v6", ProtoField.ipv6, "addr.ipv6", "Address")
field("addr_port", ProtoField.uint16, "addr.port", "Port")

field("probe_magic", ProtoField.uint32, "probe.magic", "Magic", base.HEX)
field("probe_version", ProtoField.uint8, "probe.version", "Version")
field("probe_type", ProtoField.uint8, "probe.type", "Type", base.DEC, probe_type_names)
field("probe_cmd", ProtoField.uint8, "probe.command", "Command", base.DEC, probe_cmd_names)
field("probe_flags", ProtoField.uint8, "probe.flags", "Flags", base.HEX)
field("probe_f_seen", ProtoField.uint8, "probe.flags.seen", "Seen addresses filled", base.DEC, nil, 0x01)
field("probe_f_ttl", ProtoField.uint8, "probe.flags.ttl", "TTL known", base.DEC, nil, 0x02)
field("probe_f_other", ProtoField.uint8, "probe.flags.other", "Alternate address filled", base.DEC, nil, 0x04)
field("probe_nonce", ProtoField.uint64, "probe.nonce", "Nonce", base.HEX)
field("probe_seq", ProtoField.uint32, "probe.seq", "Sequence number")
field("probe_reply_port", ProtoField.uint16, "probe.reply_port", "Reply to port")
field("probe_transport", ProtoField.uint8, "probe.transport", "Transport", base.DEC, probe_tr_names)
field("probe_ttl", ProtoField.uint8, "probe.ttl", "TTL seen")

field("train_count", ProtoField.uint16, "train.count", "Datagrams in this GSO train")
field("train_seg", ProtoField.uint16, "train.segment", "Segment size (bytes)")

local fields = {}
for _, f in pairs(F) do fields[#fields + 1] = f end
konce.fields = fields

local E = {
	malformed = ProtoExpert.new("konce.malformed", "Malformed konce packet", expert.group.MALFORMED,
		expert.severity.ERROR),
	truncated = ProtoExpert.new("konce.truncated",
		"Datagram cut short by the capture (snapshot length, or quoted in an ICMP error): the rest is not shown",
		expert.group.UNDECODED, expert.severity.NOTE),
	encrypted = ProtoExpert.new("konce.encrypted", "Encrypted: payload not decoded", expert.group.SECURITY,
		expert.severity.CHAT),
}
konce.experts = { E.malformed, E.truncated, E.encrypted }

-- ---------------------------------------------------------------------------------------------
-- Bounds-checked readers over a tvb.  `have(t, off, n)` says whether [off, off + n) was captured;
-- every read and every tree item goes through it, so no malformed input can raise a Lua error.

local function have(t, off, n) return off >= 0 and n >= 0 and off + n <= t:len() end
local function u8(t, off) return have(t, off, 1) and t(off, 1):uint() or nil end
local function u16(t, off) return have(t, off, 2) and t(off, 2):uint() or nil end
local function u32(t, off) return have(t, off, 4) and t(off, 4):uint() or nil end
local function hexs(t, off, n) return have(t, off, n) and tostring(t(off, n):bytes()):lower() or "?" end

local function all_zero(t, off, n)
	if not have(t, off, n) then return false end
	for i = off, off + n - 1 do
		if t(i, 1):uint() ~= 0 then return false end
	end
	return true
end

-- versions: n in 1..8, used slots nonzero, unused slots zero (konce_versions_check)
local function versions_ok(t, noff, voff)
	local n = u8(t, noff)
	if not n or n < 1 or n > 8 or not have(t, voff, 16) then return false end
	for i = 0, 7 do
		if (u16(t, voff + 2 * i) ~= 0) ~= (i < n) then return false end
	end
	return true
end

local function versions_has(t, voff, n, v)
	for i = 0, n - 1 do
		if u16(t, voff + 2 * i) == v then return true end
	end
	return false
end

local function versions_text(t, noff, voff)
	local n, out = u8(t, noff) or 0, {}
	for i = 0, math.min(n, 8) - 1 do out[#out + 1] = tostring(u16(t, voff + 2 * i) or "?") end
	return table.concat(out, ",")
end

-- Packet-number window (node/transport/pnwin.h): k bytes, continuation in the high bit, 7 bits each.
-- Returns k and the low 7k bits as a UInt64, or nil when it runs past avail or past 9 bytes.
local function pn_window(t, off, avail)
	local v = UInt64(0)
	for k = 1, 9 do
		if k > avail then return nil end
		local b = u8(t, off + k - 1)
		if not b then return nil end
		v = v:lshift(7) + band(b, 0x7f)
		if band(b, 0x80) == 0 then return k, v end
	end
	return nil
end

-- ---------------------------------------------------------------------------------------------
-- Validity checks, one per type, mirroring the C parsers.  Each returns nil when the datagram is
-- well formed, else the reason.  `len` is the datagram's reported length.  A type of one fixed
-- size has it in fixed_size, which check_type tests before the type's own check runs (and the GSO
-- train search uses as a segment size).

local PROBE_SIZE = 104
local fixed_size = {
	[HELLO] = MAX_DATAGRAM, [COOKIE] = 88, [VERSION] = 28, [REGISTERED] = 42, [INTRO_REQUEST] = 76,
	[INTRO_REFUSE] = 76, [INTRO_FAIL] = 44, [PUNCH] = 78, [FILTER] = 30, [LIFE_REQ] = 96,
	[INTRO_OFFER] = 76, [INTRO_ACCEPT] = 76,
	[LIFE_ACK] = 34, [LIFE_PROBE] = 16,
}

local check = {}

check[HELLO] = function(t, len)
	local fl = u8(t, 1)
	if not fl then return "truncated" end
	if band(fl, 0xfe) ~= 0 then return "unknown HELLO flags" end
	if u8(t, 3) ~= 0 then return "reserved byte not zero" end
	if not versions_ok(t, 2, 4) then return "bad version list" end
	if band(fl, 1) == 0 and not all_zero(t, 36, 16) then return "clue bytes without the clue flag" end
end

check[COOKIE] = function(t, len)
	if not have(t, 0, 88) then return "truncated" end
	if band(u8(t, 1), 0xfe) ~= 0 then return "unknown COOKIE flags" end
	if not all_zero(t, 38, 2) then return "reserved bytes not zero" end
	if u16(t, 2) == 0 then return "version 0" end
	if u8(t, 36) > 32 then return "proof-of-work demand above 32 bits" end
end

check[INITIATE] = function(t, len)
	if len < 232 or len > MAX_DATAGRAM then return "INITIATE is 232..1200 bytes" end
	if not have(t, 0, 232) then return "truncated" end
	if u8(t, 1) ~= 0 or u8(t, 39) ~= 0 then return "flags or reserved byte not zero" end
	local v = u16(t, 2)
	if v == 0 then return "version 0" end
	if u8(t, 36) > 32 then return "proof-of-work demand above 32 bits" end
	if not versions_ok(t, 38, 40) then return "bad version list" end
	if not versions_has(t, 40, u8(t, 38), v) then return "chosen version not in the echoed list" end
end

check[ACCEPT] = function(t, len)
	if len < 18 + TAG or len > MAX_DATAGRAM then return "ACCEPT is 34..1200 bytes" end
	if u8(t, 1) ~= 0 then return "flags not zero" end
end

check[DATA] = function(t, len)
	if len < 10 + 1 + TAG or len > MAX_DATA then return "DATA is 27..8972 bytes" end
	local fl = u8(t, 1)
	if not fl then return "truncated" end
	if band(fl, 0xfe) ~= 0 then return "unknown DATA flags" end
	local k = pn_window(t, 10, len - 10)
	if not k then return "packet number window runs past the packet or past 9 bytes" end
	if len - 10 - k < TAG then return "no room for the AEAD tag after the packet number" end
end

check[VERSION] = function(t, len)
	if not all_zero(t, 2, 2) then return "reserved bytes not zero" end
	if not versions_ok(t, 1, 12) then return "bad version list" end
end

local function cands_ok(t, off, n)
	for i = 0, n - 1 do
		local ct = u8(t, off + 19 * i)
		if not cand_names[ct] then return false end
	end
	return true
end

check[REGISTER] = function(t, len)
	if len < 56 or not have(t, 0, 56) then return "REGISTER is at least 56 bytes" end
	if u8(t, 1) ~= 0 or u8(t, 3) ~= 0 then return "flags or reserved byte not zero" end
	local n = u8(t, 2)
	if n > 8 then return "more than 8 candidates" end
	if len ~= 56 + 19 * n then return "length does not match the candidate count" end
	if u8(t, 52) > 3 then return "unknown NAT mapping" end
	if not cands_ok(t, 56, n) then return "unknown candidate type" end
end

check[REGISTERED] = function(t, len)
	if not all_zero(t, 1, 3) then return "flags or reserved bytes not zero" end
end

local function check_ireq(t, len)
	if not all_zero(t, 1, 3) then return "flags or reserved bytes not zero" end
end
check[INTRO_REQUEST] = check_ireq
check[INTRO_REFUSE] = check_ireq
check[INTRO_OFFER] = check_ireq
check[INTRO_ACCEPT] = check_ireq

check[INTRO] = function(t, len)
	if len < 84 or not have(t, 0, 84) then return "INTRO is at least 84 bytes" end
	if u8(t, 3) ~= 0 then return "reserved byte not zero" end
	if band(u8(t, 1), 0xfe) ~= 0 then return "unknown INTRO flags" end
	local n = u8(t, 2)
	if n < 1 or n > 12 then return "candidate count not in 1..12" end
	if len ~= 84 + 19 * n then return "length does not match the candidate count" end
	if u8(t, 48) > 3 then return "unknown NAT mapping" end
	if not cands_ok(t, 84, n) then return "unknown candidate type" end
end

check[INTRO_FAIL] = function(t, len)
	if not all_zero(t, 2, 2) then return "reserved bytes not zero" end
	if not ifail_names[u8(t, 1)] then return "unknown reason" end
end

local function check_relay(t, len)
	local hdr = u8(t, 0) == RELAY and 68 or 36
	if len < hdr or not have(t, 0, 4) then return "shorter than its header" end
	if u8(t, 1) ~= 0 then return "flags not zero" end
	local n = u16(t, 2)
	if n > MAX_DATAGRAM then return "payload longer than 1200 bytes" end
	if len ~= hdr + n then return "length field does not match the datagram" end
end
check[RELAY] = check_relay
check[RELAYED] = check_relay

check[PUNCH] = function(t, len)
	local fl = u8(t, 1)
	if not fl then return "truncated" end
	if band(fl, 0xfe) ~= 0 then return "unknown PUNCH flags" end
	if band(fl, 1) == 0 and not all_zero(t, 44, 18) then return "seen address in a probe that is not an ACK" end
end

check[FILTER] = function(t, len)
	if not all_zero(t, 2, 2) then return "reserved bytes not zero" end
	local op = u8(t, 1)
	if not filt_names[op] then return "unknown operation" end
	local has_addr = op == 2 or op == 3 or op == 4 or op == 6
	if not has_addr and not all_zero(t, 12, 18) then return "address in an operation that has none" end
end

local function check_life(t, len)
	local ty = u8(t, 0)
	if not all_zero(t, 2, 2) then return "reserved bytes not zero" end
	if ty == LIFE_REQ and not all_zero(t, 16, len - 16) then return "padding not zero" end
	local fl = u8(t, 1)
	if not fl then return "truncated" end
	if ty == LIFE_REQ and fl ~= 0 then return "flags not zero" end
	if ty == LIFE_ACK and band(fl, 0xfe) ~= 0 then return "unknown flags" end
	if ty == LIFE_PROBE and fl >= 3 then return "copy number not in 0..2" end
end
check[LIFE_REQ] = check_life
check[LIFE_ACK] = check_life
check[LIFE_PROBE] = check_life

local function check_probe(t, len)
	if len ~= PROBE_SIZE then return "a probe is exactly " .. PROBE_SIZE .. " bytes" end
	if not have(t, 0, PROBE_SIZE) then return "truncated" end
	if u8(t, 4) ~= 1 then return "unknown probe version" end
	local ty, cmd, fl, tr, ttl = u8(t, 5), u8(t, 6), u8(t, 7), u8(t, 22), u8(t, 23)
	local rport = u16(t, 20)
	if ty ~= 1 and ty ~= 2 then return "unknown probe type" end
	if not probe_cmd_names[cmd] then return "unknown command" end
	if band(fl, 0xf8) ~= 0 then return "unknown flags" end
	if tr > 3 then return "unknown transport" end
	if ty == 1 and (fl ~= 0 or ttl ~= 0) then return "observations in a request" end
	if (cmd == 5) ~= (rport ~= 0) then return "reply port set without reply-to-port, or missing" end
	if band(fl, 2) == 0 and ttl ~= 0 then return "TTL without the TTL flag" end
	if band(fl, 1) == 0 and not all_zero(t, 24, 54) then return "seen addresses without the SEEN flag" end
	if band(fl, 4) == 0 and not all_zero(t, 78, 18) then return "alternate address without the OTHER flag" end
	if not all_zero(t, 96, 8) then return "reserved bytes not zero" end
end

local function is_probe(t) return u32(t, 0) == PROBE_MAGIC end

-- nil if t[0, len) is a well-formed datagram of the konce type ty, else the reason
local function check_type(t, ty, len)
	local want = fixed_size[ty]
	if want and len ~= want then return type_names[ty] .. " is exactly " .. want .. " bytes" end
	return check[ty](t, len)
end

-- A 32-byte public key in the text form konce prints (unpadded base64url, node/transport/keytext.c).
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function key_text(t, off)
	local out, acc, nbits = {}, 0, 0
	for i = off, off + 31 do
		acc = acc * 256 + t(i, 1):uint()
		nbits = nbits + 8
		while nbits >= 6 do
			nbits = nbits - 6
			local v = math.floor(acc / 2 ^ nbits)
			out[#out + 1] = B64:sub(v + 1, v + 1)
			acc = acc - v * 2 ^ nbits
		end
	end
	if nbits > 0 then
		local v = acc * 2 ^ (6 - nbits)
		out[#out + 1] = B64:sub(v + 1, v + 1)
	end
	return table.concat(out)
end

-- ---------------------------------------------------------------------------------------------
-- Tree helpers.  add(tree, t, field, off, n) adds the item only if it was captured, and reports
-- whether it did.

local function add(tree, t, f, off, n)
	if not have(t, off, n) then return nil end
	return tree:add(f, t(off, n))
end

-- byte 1, the flags, with the one flag bit the type defines (f_bit, if any) under it
local function add_flags(tree, t, f_bit)
	local ft = add(tree, t, F.flags, 1, 1)
	if ft and f_bit then ft:add(f_bit, t(1, 1)) end
	return ft
end

-- bytes 2..37 of a COOKIE, which the INITIATE echoes at the same offsets (node/base/wire.h)
local function add_cookie_echo(tree, t)
	add(tree, t, F.version, 2, 2)
	add(tree, t, F.client_cid, 4, 8)
	add(tree, t, F.client_time, 12, 8)
	add(tree, t, F.challenge, 20, 8)
	add(tree, t, F.server_time, 28, 8)
	add(tree, t, F.pow_bits, 36, 1)
	add(tree, t, F.key_id, 37, 1)
end

-- a durable public key, with its text form beside it
local function add_key(tree, t, f, off, role)
	local item = add(tree, t, f, off, 32)
	if not item then return end
	local text = key_text(t, off)
	item:append_text(" (" .. text .. (role and ", " .. role or "") .. ")")
	item:add(F.key_text, t(off, 32), text):set_generated()
	return text
end

local function add_addr(tree, t, off, label)
	if not have(t, off, 18) then return end
	local sub
	local v4mapped = all_zero(t, off, 10) and u16(t, off + 10) == 0xffff
	local port = u16(t, off + 16)
	if v4mapped then
		local ip = tostring(t(off + 12, 4):ipv4())
		sub = tree:add(t(off, 18), string.format("%s: %s:%d", label, ip, port))
		sub:add(F.addr_v4, t(off + 12, 4))
	else
		local ip = tostring(t(off, 16):ipv6())
		sub = tree:add(t(off, 18), string.format("%s: [%s]:%d", label, ip, port))
		sub:add(F.addr_v6, t(off, 16))
	end
	sub:add(F.addr_port, t(off + 16, 2))
	return v4mapped and tostring(t(off + 12, 4):ipv4()) .. ":" .. port or nil
end

local function add_versions(tree, t, noff, voff)
	add(tree, t, F.nversions, noff, 1)
	local vt = add(tree, t, F.versions, voff, 16)
	if vt then
		local n = math.min(u8(t, noff) or 0, 8)
		for i = 0, n - 1 do vt:add(F.version, t(voff + 2 * i, 2)) end
		vt:append_text(" (" .. versions_text(t, noff, voff) .. ")")
	end
end

local function add_nat(tree, t, off)
	if not have(t, off, 4) then return end
	local sub = tree:add(t(off, 4), "NAT information")
	sub:add(F.nat_map, t(off, 1))
	sub:add(F.nat_step, t(off + 1, 1))
	sub:add(F.nat_last, t(off + 2, 2))
end

local function add_cands(tree, t, off, n)
	for i = 0, n - 1 do
		local o = off + 19 * i
		if not have(t, o, 19) then return end
		local sub = tree:add(t(o, 19), string.format("Candidate %d: %s", i + 1,
			cand_names[u8(t, o)] or "unknown"))
		sub:add(F.cand_type, t(o, 1))
		add_addr(sub, t, o + 1, "Address")
	end
end

-- a sealed box: ciphertext || tag over [off, off + n)
local function add_sealed(tree, t, f, label, off, n)
	if n < TAG or not have(t, off, n) then return end
	local sub = tree:add(f, t(off, n))
	sub:set_text(string.format("%s: %d bytes of ciphertext + %d-byte tag", label, n - TAG, TAG))
	if n > TAG then sub:add(F.ciphertext, t(off, n - TAG)) end
	sub:add(F.ciphertext_len, t(off, n), n - TAG):set_generated()
	sub:add(F.tag, t(off + n - TAG, TAG))
	sub:add_proto_expert_info(E.encrypted)
end

-- ---------------------------------------------------------------------------------------------
-- State for the heuristic: connection ids seen in handshakes, and conversations that carried a
-- konce packet.  Decisions are cached per frame so that a second pass (or the GUI re-dissecting
-- a packet) gives the same answer as the first.

local cids, convs, verdicts, trains

local function reset()
	cids, convs, verdicts, trains = {}, {}, {}, {}
end
konce.init = reset
reset()

local function conv_key(pinfo)
	local a = tostring(pinfo.src) .. "/" .. pinfo.src_port
	local b = tostring(pinfo.dst) .. "/" .. pinfo.dst_port
	if a > b then a, b = b, a end
	return a .. "|" .. b
end

local function learn(t, ty, pinfo)
	if ty == HELLO or ty == VERSION or ty == COOKIE or ty == INITIATE then
		local off = (ty == HELLO and 28) or 4
		if have(t, off, 8) then cids[hexs(t, off, 8)] = true end
	elseif ty == ACCEPT then
		if have(t, 2, 16) then
			cids[hexs(t, 2, 8)] = true
			cids[hexs(t, 10, 8)] = true
		end
	end
	convs[conv_key(pinfo)] = true
end

-- ---------------------------------------------------------------------------------------------
-- Dissection of one datagram (also of a RELAY payload, nested).  Returns the type name.

local dissect_one

local function dissect_body(t, pinfo, tree, ty, len, depth)
	local info = type_names[ty]
	if ty == HELLO then
		add_flags(tree, t, F.hello_f_clue)
		add_versions(tree, t, 2, 4)
		add(tree, t, F.reserved, 3, 1)
		add(tree, t, F.client_time, 20, 8)
		add(tree, t, F.client_cid, 28, 8)
		add(tree, t, F.clue, 36, 16)
		info = info .. " cid=" .. hexs(t, 28, 8) .. " versions=" .. versions_text(t, 2, 4)
		if have(t, 52, 60) and t(52, 4):string() == "KTRV" then
			local sub = tree:add(t(52, 60), "Traversal tag (a HELLO copy sent to a punch target)")
			sub:add(F.trav_magic, t(52, 4))
			add_key(sub, t, F.trav_key, 56)
			sub:add(F.trav_intro, t(88, 8))
			sub:add(F.trav_mac, t(96, 16))
			info = info .. " [traversal probe, intro=" .. hexs(t, 88, 8) .. "]"
			add(tree, t, F.padding, 112, len - 112)
		else
			add(tree, t, F.padding, 52, len - 52)
		end
	elseif ty == COOKIE then
		add_flags(tree, t, F.cookie_f_masked)
		add_cookie_echo(tree, t)
		add(tree, t, F.reserved, 38, 2)
		add(tree, t, F.server_epk, 40, 32)
		add(tree, t, F.mac, 72, 16)
		info = info .. " cid=" .. hexs(t, 4, 8) .. " pow=" .. tostring(u8(t, 36) or "?")
	elseif ty == INITIATE then
		add_flags(tree, t)
		add_cookie_echo(tree, t)
		add_versions(tree, t, 38, 40)
		add(tree, t, F.reserved, 39, 1)
		add(tree, t, F.mac, 56, 16)
		add(tree, t, F.clue, 72, 16)
		add(tree, t, F.client_epk, 88, 32)
		add(tree, t, F.pow_nonce, 120, 8)
		add_sealed(tree, t, F.box1, "Box 1 (client key, wanted server key, time)", 128, 88)
		if len >= 216 + TAG then add_sealed(tree, t, F.box2, "Box 2 (first session packet, pn 1)", 216, len - 216) end
		info = info .. " cid=" .. hexs(t, 4, 8)
	elseif ty == ACCEPT then
		add_flags(tree, t)
		add(tree, t, F.client_cid, 2, 8)
		add(tree, t, F.server_cid, 10, 8)
		if len >= 18 + TAG then add_sealed(tree, t, F.sealed, "Box (first reply, pn 1)", 18, len - 18) end
		info = info .. " cid=" .. hexs(t, 2, 8) .. " server_cid=" .. hexs(t, 10, 8)
	elseif ty == DATA then
		add_flags(tree, t, F.data_f_key_phase)
		add(tree, t, F.dcid, 2, 8)
		info = info .. " dcid=" .. hexs(t, 2, 8)
		local k, v = pn_window(t, 10, len - 10)
		if k then
			local pt = tree:add(F.pn_window, t(10, k))
			pt:add(F.pn_len, t(10, k), k):set_generated()
			pt:add(F.pn_bits, t(10, k), 7 * k):set_generated()
			pt:add(F.pn_low, t(10, k), v):set_generated()
			info = info .. " pn(" .. 7 * k .. " bits)=" .. tostring(v)
			if len - 10 - k >= TAG then
				add_sealed(tree, t, F.sealed, "Payload", 10 + k, len - 10 - k)
				info = info .. " len=" .. (len - 10 - k - TAG)
			end
		end
	elseif ty == VERSION then
		add_versions(tree, t, 1, 12)
		add(tree, t, F.reserved, 2, 2)
		add(tree, t, F.client_cid, 4, 8)
		info = info .. " cid=" .. hexs(t, 4, 8) .. " versions=" .. versions_text(t, 1, 12)
	elseif ty == REGISTER then
		add_flags(tree, t)
		add(tree, t, F.ncand, 2, 1)
		add(tree, t, F.reserved, 3, 1)
		add_key(tree, t, F.key, 4, "registrant")
		add(tree, t, F.txid, 36, 8)
		add(tree, t, F.echo, 44, 8)
		add_nat(tree, t, 52)
		add_cands(tree, t, 56, math.min(u8(t, 2) or 0, 8))
		info = info .. " ncand=" .. tostring(u8(t, 2) or "?")
	elseif ty == REGISTERED then
		add_flags(tree, t)
		add(tree, t, F.reserved, 2, 2)
		add(tree, t, F.txid, 4, 8)
		add(tree, t, F.stamp, 12, 8)
		local a = add_addr(tree, t, 20, "Reflexive address")
		add(tree, t, F.refresh, 38, 4)
		if a then info = info .. " you are " .. a end
	elseif ty == INTRO_REQUEST or ty == INTRO_REFUSE or ty == INTRO_OFFER or ty == INTRO_ACCEPT then
		local who = { [INTRO_REQUEST] = { "requester", "to reach" }, [INTRO_REFUSE] = { "refusing peer", "refused requester" },
			[INTRO_OFFER] = { "requester", "asked (the target)" }, [INTRO_ACCEPT] = { "accepting peer", "accepted requester" } }
		add_flags(tree, t)
		add(tree, t, F.reserved, 2, 2)
		add_key(tree, t, F.key, 4, who[ty][1])
		add_key(tree, t, F.target, 36, who[ty][2])
		add(tree, t, ty == INTRO_REQUEST and F.txid or F.intro_id, 68, 8)
	elseif ty == INTRO then
		add_flags(tree, t, F.intro_f_init)
		add(tree, t, F.ncand, 2, 1)
		add(tree, t, F.reserved, 3, 1)
		add_key(tree, t, F.key, 4, "the other side")
		add(tree, t, F.intro_id, 36, 8)
		add(tree, t, F.intro_delay, 44, 4)
		add_nat(tree, t, 48)
		add(tree, t, F.intro_secret, 52, 32)
		add_cands(tree, t, 84, math.min(u8(t, 2) or 0, 12))
		info = info .. " id=" .. hexs(t, 36, 8)
	elseif ty == INTRO_FAIL then
		add(tree, t, F.ifail_reason, 1, 1)
		add(tree, t, F.reserved, 2, 2)
		add_key(tree, t, F.target, 4)
		add(tree, t, F.txid, 36, 8)
		info = info .. " " .. (ifail_names[u8(t, 1)] or "?")
	elseif ty == RELAY or ty == RELAYED then
		local hdr = ty == RELAY and 68 or 36
		add_flags(tree, t)
		add(tree, t, F.relay_len, 2, 2)
		add_key(tree, t, F.key, 4, "from")
		if ty == RELAY then add_key(tree, t, F.target, 36, "to") end
		local n = u16(t, 2)
		if n and n > 0 and len == hdr + n and have(t, hdr, n) then
			local pt = tree:add(F.relay_payload, t(hdr, n))
			if depth < 2 then
				local inner = dissect_one(t(hdr, n):tvb(), pinfo, pt, depth + 1)
				if inner then info = info .. " [" .. inner .. "]" end
			end
		end
	elseif ty == PUNCH then
		add_flags(tree, t, F.punch_f_ack)
		add(tree, t, F.punch_seq, 2, 2)
		add(tree, t, F.intro_id, 4, 8)
		local from = add_key(tree, t, F.key, 12, "sender")
		local ack = band(u8(t, 1) or 0, 1) == 1
		if ack then
			add_addr(tree, t, 44, "Probe came from")
		else
			add(tree, t, F.reserved, 44, 18)
		end
		add(tree, t, F.punch_mac, 62, 16)
		info = info .. (ack and " ACK" or "") .. " seq=" .. tostring(u16(t, 2) or "?") .. " intro=" .. hexs(t, 4, 8)
		if from then info = info .. " from " .. from:sub(1, 8) .. "..." end
	elseif ty == FILTER then
		add(tree, t, F.filt_op, 1, 1)
		add(tree, t, F.reserved, 2, 2)
		add(tree, t, F.filt_token, 4, 8)
		local op = u8(t, 1)
		local labels = { [2] = "Source seen", [3] = "Probe this address", [4] = "Probe this address",
			[6] = "Probe left from" }
		if labels[op] then add_addr(tree, t, 12, labels[op]) else add(tree, t, F.reserved, 12, 18) end
		info = info .. " " .. (filt_names[op] or "?")
	elseif ty == LIFE_REQ or ty == LIFE_ACK or ty == LIFE_PROBE then
		if ty == LIFE_PROBE then add(tree, t, F.life_copy, 1, 1)
		else
			add_flags(tree, t, ty == LIFE_ACK and F.life_busy or nil)
		end
		add(tree, t, F.reserved, 2, 2)
		add(tree, t, F.life_nonce, 4, 8)
		add(tree, t, F.life_delay, 12, 4)
		if ty == LIFE_REQ then add(tree, t, F.padding, 16, len - 16) end
		if ty == LIFE_ACK then add_addr(tree, t, 16, "Request's source as seen") end
		info = info .. " delay=" .. tostring(u32(t, 12) or "?") .. "ms"
	end
	return info
end

local function dissect_probe(t, pinfo, tree, len)
	add(tree, t, F.probe_magic, 0, 4)
	add(tree, t, F.probe_version, 4, 1)
	add(tree, t, F.probe_type, 5, 1)
	add(tree, t, F.probe_cmd, 6, 1)
	local ft = add(tree, t, F.probe_flags, 7, 1)
	if ft then
		ft:add(F.probe_f_seen, t(7, 1))
		ft:add(F.probe_f_ttl, t(7, 1))
		ft:add(F.probe_f_other, t(7, 1))
	end
	add(tree, t, F.probe_nonce, 8, 8)
	add(tree, t, F.probe_seq, 16, 4)
	add(tree, t, F.probe_reply_port, 20, 2)
	add(tree, t, F.probe_transport, 22, 1)
	add(tree, t, F.probe_ttl, 23, 1)
	local fl = u8(t, 7) or 0
	local seen
	if band(fl, 1) == 1 then
		seen = add_addr(tree, t, 24, "Request's source as seen")
		add_addr(tree, t, 42, "Arrived on")
		add_addr(tree, t, 60, "Reply sent from")
	end
	if band(fl, 4) == 4 then add_addr(tree, t, 78, "Alternate address") end
	add(tree, t, F.reserved, 96, 8)
	local ty = probe_type_names[u8(t, 5)] or "?"
	local info = "PROBE " .. ty .. " " .. (probe_cmd_names[u8(t, 6)] or "?") .. " seq=" .. tostring(u32(t, 16) or "?")
	if seen then info = info .. " seen " .. seen end
	return info, "PROBE " .. ty
end

-- Returns the packet's name, or nil if byte 0 is no konce type.
dissect_one = function(t, pinfo, parent, depth)
	local len = t:reported_length_remaining()
	if len < 1 or t:len() < 1 then return nil end
	local ty = u8(t, 0)
	local probe = is_probe(t)
	if not probe and (not type_names[ty] or ty == 0x4b) then return nil end

	local tree = parent:add(konce, t())
	local err, info, name
	if probe then
		err = check_probe(t, len)
		info, name = dissect_probe(t, pinfo, tree, len)
	else
		name = type_names[ty]
		tree:add(F.type, t(0, 1))
		err = check_type(t, ty, len)
		info = dissect_body(t, pinfo, tree, ty, len, depth)
	end
	tree:add(F.packet, t(0, 1), name):set_generated()
	tree:append_text(", " .. name .. (depth > 0 and " (relayed)" or ""))
	if err then
		tree:add_proto_expert_info(E.malformed, "Malformed " .. name .. ": " .. err)
		info = info .. " [malformed: " .. err .. "]"
	end
	if t:len() < len then tree:add_proto_expert_info(E.truncated) end
	return info
end

-- ---------------------------------------------------------------------------------------------
-- GSO trains.  node/io/udp.c hands the kernel several datagrams to one destination as one UDP_SEGMENT
-- send: equal sizes, the last possibly shorter.  A capture on the sending host (and, with UDP GRO,
-- on the receiving one, and on a veth path in between) sees that train as one UDP payload, up to
-- 64 KiB.  The segment size is not in the capture; it is found from the packets: a fixed-size type
-- gives it, and a DATA train repeats its header (type, flags, destination connection id) at every
-- segment.  Every segment must then be a well-formed konce datagram on its own.

local MAX_TRAIN = 65507

-- nil if t[0, len) is one well-formed konce datagram, else the reason ("" if not konce at all)
local function check_one(t, len)
	if is_probe(t) then return check_probe(t, len) end
	local ty = u8(t, 0)
	if not ty or not type_names[ty] or ty == 0x4b then return "" end
	return check_type(t, ty, len)
end

local function train_ok(t, len, seg)
	if seg < 16 or seg > MAX_DATA or seg >= len then return false end
	for off = 0, len - 1, seg do
		local n = math.min(seg, len - off)
		if check_one(t(off, n):tvb(), n) ~= nil then return false end
	end
	return true
end

-- The segment size of a train in t[0, len), or nil if it is not one.
local function find_train(t, len)
	if len > MAX_TRAIN or t:len() < len or len < 32 then return nil end
	local first = is_probe(t) and PROBE_SIZE or fixed_size[u8(t, 0)]
	if first then return train_ok(t, len, first) and first or nil end
	if u8(t, 0) ~= DATA or len < 2 * (10 + 1 + TAG) then return nil end
	local raw = t:raw(0, len)
	local dcid = raw:sub(3, 10)
	local from = 10 + 1 + TAG + 1 -- 1-based position of the earliest second header
	while true do
		local at = raw:find(dcid, from + 2, true)
		if not at then return nil end
		local seg = at - 3 -- 0-based offset of the candidate second header
		if seg > MAX_DATA then return nil end
		if raw:byte(seg + 1) == DATA and train_ok(t, len, seg) then return seg end
		from = at - 1
	end
end

-- Inside an ICMP error the datagram is a quote: show it, but leave the columns and the
-- heuristic's state to the packet that carries it.
local function in_error(pinfo)
	local ok, v = pcall(function() return pinfo.in_error_pkt end)
	return ok and v == true
end

local function dissect(t, pinfo, tree, seg)
	local len = t:reported_length_remaining()
	local info
	if seg == nil and check_one(t, len) ~= "" then
		-- a DATA train fits in one DATA's largest size as easily as one DATA: look for one first
		if u8(t, 0) == DATA or check_one(t, len) ~= nil then seg = find_train(t, len) end
	end
	if seg then
		local count = math.floor((len + seg - 1) / seg)
		local tt = tree:add(konce, t(), string.format("konce GSO train: %d datagrams of %d bytes", count, seg))
		tt:add(F.train_count, t(), count):set_generated()
		tt:add(F.train_seg, t(), seg):set_generated()
		for off = 0, len - 1, seg do
			local n = math.min(seg, len - off)
			local i = dissect_one(t(off, n):tvb(), pinfo, tt, 0)
			info = info or i
		end
		info = string.format("%s (GSO train: %d x %d bytes)", info or "?", count, seg)
	else
		info = dissect_one(t, pinfo, tree, 0)
	end
	if not info then return 0 end
	if not in_error(pinfo) then
		pinfo.cols.protocol:set("KONCE")
		pinfo.cols.info:set(info)
		learn(t, u8(t, 0), pinfo)
	end
	return t:len()
end

function konce.dissector(t, pinfo, tree)
	return dissect(t, pinfo, tree)
end

-- ---------------------------------------------------------------------------------------------
-- Heuristic: claim only what the C parser would accept (one datagram, or a GSO train of them).
-- ACCEPT and DATA need a connection id or a conversation already seen in konce traffic: their
-- fixed headers alone are too weak.

local function heuristic_ok(t, pinfo)
	local len = t:reported_length_remaining()
	if len < 1 or t:len() < len or in_error(pinfo) then return false end
	local seg
	if check_one(t, len) ~= nil then
		seg = find_train(t, len)
		if not seg then return false end
	end
	local ty = u8(t, 0)
	if ty == ACCEPT or ty == DATA then
		return cids[hexs(t, 2, 8)] == true or convs[conv_key(pinfo)] == true, seg
	end
	return true, seg
end

local function heuristic(t, pinfo, tree)
	local ok, seg = verdicts[pinfo.number], nil
	if ok == nil then
		ok, seg = heuristic_ok(t, pinfo)
		if not pinfo.visited then verdicts[pinfo.number], trains[pinfo.number] = ok, seg end
	end
	if not ok then return false end
	dissect(t, pinfo, tree, trains[pinfo.number] or seg)
	return true
end

-- The port is a preference (Edit > Preferences > Protocols > KONCE, or tshark -o konce.port:N);
-- 0 leaves everything to the heuristic.
konce.prefs.port = Pref.uint("UDP port", PORT,
	"The UDP port konce nodes listen on; 0 for none (the heuristic still finds konce on any port)")
local registered = 0
local function register_port()
	local udp = DissectorTable.get("udp.port")
	if registered ~= 0 then udp:remove(registered, konce) end
	registered = konce.prefs.port
	if registered ~= 0 then udp:add(registered, konce) end
end
konce.prefs_changed = register_port
register_port()
konce:register_heuristic("udp", heuristic)

-- ---------------------------------------------------------------------------------------------
-- The probe outside UDP: `konce probe --icmp` sends it as the data of an echo request (reply),
-- `--tcp` as the payload of a SYN (reply: SYN-ACK), both built by nat/rawpkt.c.  ICMP has no
-- heuristic table, and on a well-known port (3478) TCP gives a SYN's payload to that port's
-- dissector, so a postdissector looks at the echo data and the SYN payload instead.

local konce_raw = Proto("konce_raw", "konce probe in ICMP echo or TCP SYN")
local f_icmp_type = Field.new("icmp.type")
local f_data = Field.new("data.data")
local f_syn = Field.new("tcp.flags.syn")
local f_tcp_payload = Field.new("tcp.payload")

function konce_raw.dissector(_, pinfo, tree)
	if in_error(pinfo) then return end
	local carrier
	local ty, syn = f_icmp_type(), f_syn()
	if ty and (ty.value == 0 or ty.value == 8) then
		carrier = f_data()
	elseif syn and syn.value then
		carrier = f_tcp_payload()
	end
	if not carrier then return end
	local ok, t = pcall(function() return carrier.range:tvb() end)
	if not ok or not t then return end
	local len = t:reported_length_remaining()
	if t:len() < len or not is_probe(t) or check_probe(t, len) ~= nil then return end
	local info = dissect_one(t, pinfo, tree, 0)
	if info then
		pinfo.cols.protocol:set("KONCE")
		pinfo.cols.info:set(info .. (ty and " (in ICMP echo)" or " (in TCP SYN)"))
	end
end
register_postdissector(konce_raw, true)
