/** @module The test Worker: a SQLite-backed Durable Object whose storage the adapter tests run against. */
import { DurableObject } from 'cloudflare:workers'

/** Holds nothing itself: tests reach its `ctx.storage` through `runInDurableObject`. */
export class TestStore extends DurableObject<Env> {
  ping(): string {
    return 'pong'
  }
}

export default {
  async fetch(): Promise<Response> {
    return new Response('edgegraph adapter tests')
  },
} satisfies ExportedHandler<Env>
