// Plays a session (tests/sdk/session.py) with @segment/analytics-node and prints, as JSON,
// every message the SDK sent and the HTTP status of each request.
// Usage: node node_session.js HOST WRITE_KEY SESSION_JSON
const { Analytics } = require('@segment/analytics-node')

async function main() {
  const [host, writeKey, sessionJson] = process.argv.slice(2)
  const { userId, anonymousId, calls } = JSON.parse(sessionJson)
  const analytics = new Analytics({ writeKey, host, flushAt: 5, flushInterval: 200 })
  const sent = []
  const statuses = []
  analytics.on('http_request', (request) => sent.push(...JSON.parse(request.body).batch))
  analytics.on('http_response', (response) => statuses.push(response.status))
  analytics.on('error', (error) => statuses.push(String(error.reason || error)))
  for (const c of calls) {
    const who = c.identified ? { userId, anonymousId } : { anonymousId }
    if (c.call === 'track') analytics.track({ ...who, event: c.event, properties: c.properties })
    if (c.call === 'page' || c.call === 'screen')
      analytics[c.call]({ ...who, name: c.name, category: c.category, properties: c.properties })
    if (c.call === 'identify') analytics.identify({ ...who, traits: c.traits })
    if (c.call === 'group') analytics.group({ ...who, groupId: c.group_id, traits: c.traits })
    if (c.call === 'alias') analytics.alias({ userId, previousId: c.previous_id })
  }
  await analytics.closeAndFlush({ timeout: 20000 })
  process.stdout.write(JSON.stringify({ sent, statuses }))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
