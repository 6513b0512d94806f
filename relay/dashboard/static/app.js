// The relay dashboard, in the browser (no framework, no build step).
//
// Two sources: `GET /api/stats` every STATS_POLL_MS (hosts with status,
// cursor and events/s; totals) and the relay's Jetstream endpoint
// `/subscribe` over a WebSocket (one row per commit op, newest first, at
// most data-commits-max rows). The socket reconnects with doubling delays
// (at most data-reconnect-ms-max) from the last time_us it saw, so a
// reconnect neither misses nor repeats commits.
//
// Every string from the network reaches the page through textContent, never
// innerHTML: a post's text is data, not markup.
'use strict'

;(() => {
  const STATS_POLL_MS = 2000
  const SNIPPET_CHARS_MAX = 160
  const body = document.body
  const commitsMax = Number(body.dataset.commitsMax) || 50
  const reconnectMsMax = Number(body.dataset.reconnectMsMax) || 30000

  const $ = (id) => document.getElementById(id)
  const number = new Intl.NumberFormat('en-US')
  const rate = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })

  function cell(row, text, className) {
    const td = document.createElement('td')
    td.textContent = text
    if (className) td.className = className
    row.appendChild(td)
    return td
  }

  function statusPill(status) {
    const span = document.createElement('span')
    span.className = `status status-${String(status).replace(/[^a-z]/g, '')}`
    span.textContent = status
    return span
  }

  function renderStats(stats) {
    $('total-rate').textContent = rate.format(stats.eventsPerSecond)
    $('seq').textContent = number.format(stats.seq)
    $('hosts-total').textContent = number.format(stats.hostsTotal)
    $('subscribers').textContent = stats.subscribers === null ? '–' : number.format(stats.subscribers)
    const shown = stats.hosts.length
    $('hosts-note').textContent = shown < stats.hostsTotal ? `first ${shown} of ${stats.hostsTotal}` : `rates over the last ${Math.round(stats.windowMs / 1000)} s`
    const tbody = document.querySelector('#hosts tbody')
    const rows = stats.hosts.map((host) => {
      const row = document.createElement('tr')
      row.dataset.hostname = host.hostname
      cell(row, host.hostname, 'host')
      cell(row, '', 'status-cell').appendChild(statusPill(host.status))
      cell(row, host.cursor === null ? '–' : number.format(host.cursor), 'num cursor')
      cell(row, number.format(host.accountCount), 'num')
      cell(row, rate.format(host.eventsPerSecond), 'num rate')
      cell(row, number.format(host.accepted), 'num')
      cell(row, number.format(host.dropped), 'num')
      return row
    })
    tbody.replaceChildren(...rows)
  }

  async function pollStats() {
    const note = $('stats-error')
    try {
      const res = await fetch('/api/stats', { headers: { accept: 'application/json' }, cache: 'no-store' })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      renderStats(await res.json())
      note.hidden = true
    } catch (err) {
      note.textContent = `stats unavailable: ${err.message}`
      note.hidden = false
    } finally {
      setTimeout(pollStats, STATS_POLL_MS)
    }
  }

  // A short human view of a record: post text, a like/repost target, a name.
  function snippet(record) {
    if (record === null || typeof record !== 'object') return ''
    let text = ''
    if (typeof record.text === 'string') text = record.text
    else if (record.subject && typeof record.subject.uri === 'string') text = `→ ${record.subject.uri}`
    else if (typeof record.subject === 'string') text = `→ ${record.subject}`
    else if (typeof record.displayName === 'string') text = record.displayName
    else if (typeof record.$type === 'string') text = record.$type
    return text.length > SNIPPET_CHARS_MAX ? `${text.slice(0, SNIPPET_CHARS_MAX)}…` : text
  }

  function span(text, className) {
    const el = document.createElement('span')
    el.className = className
    el.textContent = text
    return el
  }

  function addCommit(message) {
    const commit = message.commit
    const list = $('live-commits')
    const item = document.createElement('li')
    const when = new Date(Math.floor(message.time_us / 1000))
    item.title = `${message.did} ${commit.collection}/${commit.rkey} rev ${commit.rev}`
    item.append(
      span(when.toLocaleTimeString('en-GB'), 'time'),
      span(commit.operation, `op op-${String(commit.operation).replace(/[^a-z]/g, '')}`),
      span(message.did, 'did'),
      span(`${commit.collection}/${commit.rkey}`, 'path'),
      span(snippet(commit.record), 'text'),
    )
    list.prepend(item)
    while (list.childElementCount > commitsMax) list.lastElementChild.remove()
    $('live-empty').hidden = true
  }

  let lastTimeUs = null
  let delayMs = 500

  function setStreamState(text, live) {
    const badge = $('stream-state')
    badge.textContent = text
    badge.classList.toggle('live', live)
  }

  function connect() {
    const url = new URL('/subscribe', location.href)
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
    if (lastTimeUs !== null) url.searchParams.set('cursor', String(lastTimeUs + 1))
    const socket = new WebSocket(url)
    socket.onopen = () => {
      delayMs = 500
      setStreamState('live', true)
    }
    socket.onmessage = (event) => {
      let message
      try {
        message = JSON.parse(event.data)
      } catch {
        return
      }
      if (typeof message.time_us === 'number') lastTimeUs = message.time_us
      if (message.kind === 'commit' && message.commit) addCommit(message)
    }
    socket.onclose = () => {
      setStreamState(`reconnecting in ${Math.round(delayMs / 1000)} s`, false)
      setTimeout(connect, delayMs)
      delayMs = Math.min(delayMs * 2, reconnectMsMax)
    }
  }

  pollStats()
  connect()
})()
