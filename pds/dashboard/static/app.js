// The PDS admin page, in the browser (no framework, no build step).
//
// The page itself holds no data: it asks for the admin password, keeps it
// in memory only (never in storage, never in a URL: the input has no name,
// so the form cannot submit it), and sends it as `Basic admin:<password>`
// on three XRPC calls: dev.atfed.admin.getServerStats (storage, firehose,
// crawlers), dev.atfed.admin.listAccounts and com.atproto.admin.
// getInviteCodes. A 401 signs out and clears every table. While signed in,
// the data refreshes every REFRESH_MS.
//
// Every string from the server reaches the page through textContent.
'use strict'

;(() => {
  const REFRESH_MS = 10000
  const rowsMax = Number(document.body.dataset.rowsMax) || 100
  const $ = (id) => document.getElementById(id)
  const number = new Intl.NumberFormat('en-US')
  let authorization = null
  let timer = null

  function basic(password) {
    const bytes = new TextEncoder().encode(`admin:${password}`)
    let binary = ''
    for (const b of bytes) binary += String.fromCharCode(b)
    return `Basic ${btoa(binary)}`
  }

  class HttpError extends Error {
    constructor(status, name, message) {
      super(message || name || `HTTP ${status}`)
      this.status = status
    }
  }

  async function xrpc(nsid, params) {
    const url = new URL(`/xrpc/${nsid}`, location.href)
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value))
    const res = await fetch(url, { headers: { authorization, accept: 'application/json' }, cache: 'no-store' })
    const body = await res.json().catch(() => ({}))
    if (!res.ok) throw new HttpError(res.status, body.error, body.message)
    return body
  }

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    let value = n
    let unit = 0
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024
      unit++
    }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
  }

  function sum(valueId, countId, stats, noun) {
    $(valueId).textContent = `${bytes(stats.bytes)}${stats.complete ? '' : '+'}`
    $(countId).textContent = `${number.format(stats.count)} ${noun}${stats.count === 1 ? '' : 's'}${stats.complete ? '' : ' (partial scan)'}`
  }

  function row(cells) {
    const tr = document.createElement('tr')
    for (const [text, className] of cells) {
      const td = document.createElement('td')
      if (className && className.startsWith('status')) {
        const pill = document.createElement('span')
        pill.className = `status ${className}`
        pill.textContent = text
        td.appendChild(pill)
      } else {
        td.textContent = text
        if (className) td.className = className
      }
      tr.appendChild(td)
    }
    return tr
  }

  const date = (iso) => (iso ? new Date(iso).toLocaleString('en-GB') : '–')
  const pill = (value) => `status-${String(value).replace(/[^a-z]/g, '')}`

  function renderStats(stats) {
    sum('repo-bytes', 'repo-count', stats.storage.repoBlocks, 'block')
    sum('blob-bytes', 'blob-count', stats.storage.blobs, 'blob')
    sum('disk-bytes', 'disk-count', stats.storage.disk, 'file')
    $('firehose-seq').textContent = number.format(stats.firehose.seq)
    $('subscribers').textContent = stats.firehose.subscribers === null ? '–' : number.format(stats.firehose.subscribers)
    const rows = stats.crawlers.map((c) => {
      const result = c.lastResult ?? 'pending'
      return row([[c.crawler, 'mono'], [result, result === 'ok' ? 'status-ok' : result === 'pending' ? 'status' : 'status-failed'], [date(c.lastResultAt)], [date(c.lastOkAt)]])
    })
    document.querySelector('#crawlers tbody').replaceChildren(...rows)
    $('crawlers-empty').hidden = stats.crawlers.length > 0
  }

  function renderAccounts(page) {
    const rows = page.accounts.map((a) => row([[a.handle], [a.did, 'mono'], [a.status, pill(a.status)], [date(a.createdAt)]]))
    document.querySelector('#accounts tbody').replaceChildren(...rows)
    $('accounts-note').textContent = page.cursor === undefined ? `${rows.length}` : `first ${rows.length}`
  }

  function renderInvites(page) {
    const rows = page.codes.map((c) => row([[c.code, 'mono'], [`${c.uses.length} / ${c.available}`, 'num'], [c.disabled ? 'yes' : 'no'], [c.forAccount, 'mono'], [date(c.createdAt)]]))
    document.querySelector('#invites tbody').replaceChildren(...rows)
    $('invites-note').textContent = page.cursor === undefined ? `${rows.length}` : `latest ${rows.length}`
  }

  function signOut(message) {
    authorization = null
    clearTimeout(timer)
    for (const tbody of document.querySelectorAll('#data tbody')) tbody.replaceChildren()
    for (const el of document.querySelectorAll('#data .value, #data .sub, #subscribers')) el.textContent = '–'
    $('data').hidden = true
    $('login').hidden = false
    $('login-error').textContent = message || ''
    $('login-error').hidden = !message
  }

  async function load() {
    clearTimeout(timer)
    if (authorization === null) return
    try {
      const [stats, accounts, invites] = await Promise.all([
        xrpc('dev.atfed.admin.getServerStats', {}),
        xrpc('dev.atfed.admin.listAccounts', { limit: rowsMax }),
        xrpc('com.atproto.admin.getInviteCodes', { sort: 'recent', limit: rowsMax }),
      ])
      renderStats(stats)
      renderAccounts(accounts)
      renderInvites(invites)
      $('updated').textContent = `updated ${new Date().toLocaleTimeString('en-GB')}`
      $('login').hidden = true
      $('data').hidden = false
    } catch (err) {
      if (err.status === 401) return signOut('Wrong admin password (or no admin password configured on this PDS).')
      $('updated').textContent = `refresh failed: ${err.message}`
    }
    if (authorization !== null) timer = setTimeout(load, REFRESH_MS)
  }

  $('login').addEventListener('submit', (event) => {
    event.preventDefault()
    authorization = basic($('password').value)
    $('password').value = ''
    $('login-error').hidden = true
    load()
  })
  $('refresh').addEventListener('click', () => load())
  $('sign-out').addEventListener('click', () => signOut(''))
})()
