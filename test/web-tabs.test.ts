/** @module Cross-tab notices (adapters/web-tabs.ts): every commit heard in order by the other tabs, sent in batches. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTabCoordinator } from '../adapters/web-tabs.js'

const scope = () => `test:${Math.random().toString(36).slice(2)}`

afterEach(() => {
  vi.restoreAllMocks()
})

describe('tab coordinator notices', () => {
  it('another tab hears every commit, in order, though a burst of commits goes in a few messages', async () => {
    const name = scope()
    const [a, b] = [createTabCoordinator(name, 'test'), createTabCoordinator(name, 'test')]
    const heardA: string[] = []
    const heardB: string[] = []
    a.subscribe(({ thread }) => heardA.push(thread))
    b.subscribe(({ thread }) => heardB.push(thread))
    const posted = vi.spyOn(BroadcastChannel.prototype, 'postMessage')
    const sent: string[] = []
    for (let i = 0; i < 200; i++) {
      const thread = i % 50 === 49 ? 'other' : 't'
      sent.push(thread)
      a.notify(thread)
    }
    // This tab's listeners hear each commit at once.
    expect(heardA).toEqual(sent)
    await vi.waitFor(() => expect(heardB).toEqual(sent))
    expect(posted.mock.calls.length).toBeLessThanOrEqual(2)
    a.close()
    b.close()
  })

  it('a notice still waiting when the tab closes is sent, and a tab of an older version is understood', async () => {
    const name = scope()
    const [a, b] = [createTabCoordinator(name, 'test'), createTabCoordinator(name, 'test')]
    const heard: string[] = []
    b.subscribe(({ thread }) => heard.push(thread))
    a.subscribe(() => {})
    a.notify('x')
    a.notify('y') // within the batch window: sent when a closes
    a.close()
    const old = new BroadcastChannel(`edgegraph:${name}`)
    old.postMessage({ thread: 'z' }) // what an older version sends per commit
    await vi.waitFor(() => expect(heard).toEqual(['x', 'y', 'z']))
    old.close()
    b.close()
  })
})
