'use strict'
// Plugin of mailprobe's private Haraka instances (tests/support/haraka.py).
//
// config/mailprobe_test.ini, [main]: mode (closed, open, own-catchall, data-decides), domain,
// known_users (comma-separated local parts), records (a file).
//
// - the relay decision of the mode at RCPT (listed before rcpt_to.in_host_list, which accepts
//   every local part of config/host_list), and at DATA for data-decides;
// - every connection, RCPT, DATA and queued message is appended to the records file as one
//   JSON object per line, so a test can see what arrived and prove what did not;
// - no reverse DNS lookup of clients (hook_lookup_rdns);
// - nothing is ever delivered: the queue and queue_outbound hooks answer OK after recording
//   (Haraka then replies 250 and drops the message; outbound delivery is never reached, and
//   is disabled in outbound.ini as well).
const fs = require('node:fs')

exports.register = function () {
    const cfg = this.config.get('mailprobe_test.ini')
    this.mode = cfg.main.mode
    this.domain = String(cfg.main.domain).toLowerCase()
    this.known = new Set(
        String(cfg.main.known_users || '')
            .split(',')
            .map((user) => user.trim().toLowerCase())
            .filter((user) => user),
    )
    this.records = cfg.main.records
    this.register_hook('queue', 'record_queue')
    this.register_hook('queue_outbound', 'record_queue')
}

exports.record = function (event, fields) {
    const line = JSON.stringify({ event, at: Date.now() / 1000, ...fields })
    fs.appendFileSync(this.records, `${line}\n`)
}

exports.is_own = function (address) {
    return String(address.host || '').toLowerCase() === this.domain
}

// No reverse DNS lookup of the client: tests must not depend on the resolver (like Exim's
// host_lookup unset); the client is named "localhost".
exports.hook_lookup_rdns = function (next) {
    next(OK, 'localhost')
}

exports.hook_connect = function (next, connection) {
    if (this.mode === 'open') connection.relaying = true // relays for anyone
    this.record('connect', { remote: connection.remote.ip })
    next()
}

exports.hook_rcpt = function (next, connection, params) {
    const rcpt = params[0]
    const own = this.is_own(rcpt)
    this.record('rcpt', { rcpt: rcpt.address, own })
    switch (this.mode) {
        case 'open':
        case 'data-decides':
            return next(OK)
        case 'closed':
            if (own && !this.known.has(String(rcpt.user || '').toLowerCase())) {
                return next(DENY, `5.1.1 <${rcpt.address}>: Recipient address rejected: unknown user`)
            }
            return next() // rcpt_to.in_host_list accepts own.test; anything else is refused
        default: // own-catchall
            return next()
    }
}

exports.hook_data = function (next, connection) {
    const txn = connection.transaction
    const rcpts = txn.rcpt_to.map((rcpt) => rcpt.address)
    const external = txn.rcpt_to.filter((rcpt) => !this.is_own(rcpt))
    const refused = this.mode === 'data-decides' && external.length > 0
    this.record('data', { mail_from: txn.mail_from.address, rcpts, refused })
    if (refused) return next(DENY, '5.7.1 Relaying denied: message refused at DATA')
    next()
}

exports.record_queue = function (next, connection) {
    const txn = connection.transaction
    this.record('queue', {
        id: txn.uuid,
        mail_from: txn.mail_from.address,
        rcpts: txn.rcpt_to.map((rcpt) => rcpt.address),
        size: txn.data_bytes,
    })
    connection.loginfo(this, 'discarding message (mailprobe test instance delivers nothing)')
    next(OK) // Haraka replies 250 Message Queued (uuid)
}
