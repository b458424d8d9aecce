// Runs in the page: plays a session (tests/sdk/session.py) with analytics.js once it has
// loaded, awaiting each call, and resolves to the events as analytics.js sent them.
async ({ userId, calls }) => {
  const analytics = window.analytics
  const sent = []
  for (const c of calls) {
    let ctx
    if (c.call === 'track') ctx = await analytics.track(c.event, c.properties)
    if (c.call === 'page') ctx = await analytics.page(c.category, c.name, c.properties)
    if (c.call === 'screen') ctx = await analytics.screen(c.category, c.name, c.properties)
    if (c.call === 'identify') ctx = await analytics.identify(userId, c.traits)
    if (c.call === 'group') ctx = await analytics.group(c.group_id, c.traits)
    if (c.call === 'alias') ctx = await analytics.alias(userId, c.previous_id)
    sent.push({ ...ctx.event, delivered: !ctx.failedDelivery() })
  }
  return { sent, anonymousId: analytics.user().anonymousId() }
}
