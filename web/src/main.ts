// The reference app's page: sends the public anon key to the server and shows what the
// server says, in elements with stable ids (#status, #db-password, #build, #supabase-url)
// that the headless-browser check of a deploy reads.
import './style.css'

type State = 'pending' | 'ok' | 'error'

interface WhoAmI {
  role?: string
  verified?: boolean
  error?: string
  db_password?: { read: boolean; delivery: string; path: string | null; database_url_matches: boolean | null }
}

interface Health {
  status?: string
  build?: { npm_token_used?: boolean } | null
}

function show(id: string, text: string, state: State): void {
  const el = document.getElementById(id)
  if (el) {
    el.textContent = text
    el.dataset.state = state
  }
}

async function getJson<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(path, init)
  return { status: res.status, body: (await res.json()) as T }
}

async function checkWhoAmI(anonKey: string | undefined): Promise<void> {
  if (!anonKey) {
    show('status', 'error: neither VITE_SUPABASE_ANON_KEY_ASYMMETRIC nor VITE_SUPABASE_ANON_KEY was set when the page was built', 'error')
    show('db-password', 'unknown', 'error')
    return
  }
  try {
    const { body } = await getJson<WhoAmI>('/api/whoami', {
      method: 'POST',
      headers: { Authorization: `Bearer ${anonKey}` },
    })
    if (body.verified === true && body.role === 'anon') {
      show('status', 'role: anon ✓', 'ok')
    } else {
      show('status', `error: ${body.error ?? 'the server did not verify the key'}`, 'error')
    }
    const db = body.db_password
    if (db?.read) {
      const where = db.delivery === 'file' && db.path ? `read from ${db.path}` : `read from ${db.delivery}`
      show('db-password', `${where} ✓`, 'ok')
    } else {
      show('db-password', 'not read', 'error')
    }
  } catch (e) {
    show('status', `error: cannot reach the server (${String(e)})`, 'error')
    show('db-password', 'unknown', 'error')
  }
}

async function checkBuild(): Promise<void> {
  try {
    const { body } = await getJson<Health>('/health')
    const used = body.build?.npm_token_used === true
    show('build', used ? 'npm token available during the image build ✓' : 'no image build info (local run)', used ? 'ok' : 'pending')
  } catch {
    show('build', 'unknown', 'error')
  }
}

show('supabase-url', import.meta.env.VITE_SUPABASE_URL ?? '(VITE_SUPABASE_URL not set at build time)', 'ok')
// The ES256 anon key when the build has one (the server verifies it with JWT_JWKS), else
// the legacy HS256 one (verified with JWT_SECRET).
void checkWhoAmI(import.meta.env.VITE_SUPABASE_ANON_KEY_ASYMMETRIC || import.meta.env.VITE_SUPABASE_ANON_KEY)
void checkBuild()
