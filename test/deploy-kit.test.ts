/**
 * The deployment kit (deploy/), checked by what can check it on this machine: the compose file
 * and the Kubernetes manifests against the official JSON schemas (vendored in deploy/schemas),
 * the alerting rules by promtool itself (syntax, then unit tests that fire each alert), and the
 * rules, the dashboard and the manifests against what the programs really read and export —
 * metric names from the collector's own registry, environment variables from the option
 * schemas. No image is built here (no container engine runs on this machine): the
 * Containerfiles are checked for what they copy, run and grant.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { AGENT_OPTIONS } from '../agent/src/config.js';
import { COLLECTOR_OPTIONS } from '../collector/src/config.js';
import { Metrics } from '../collector/src/metrics.js';
import { repoRoot } from './support/paths.js';

const deploy = join(repoRoot, 'deploy');
const read = (...path: string[]) => readFileSync(join(deploy, ...path), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML and JSON documents, navigated by the assertions
type Doc = any;

function validator(schemaFile: string): ValidateFunction {
  const schema = JSON.parse(read('schemas', schemaFile)) as Record<string, unknown>;
  // Both name their meta-schema by an address ajv does not know it by (the Compose schema
  // "https://json-schema.org/draft-07/schema", the Kubernetes ones "http://json-schema.org/schema#");
  // their keywords are draft-07's, ajv's default, so they are compiled as such. strict: false
  // lets the annotations they carry (x-kubernetes-*, deprecated) pass.
  expect(['https://json-schema.org/draft-07/schema', 'http://json-schema.org/schema#']).toContain(schema.$schema);
  delete schema.$schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

function errorsOf(validate: ValidateFunction, doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** Every series name the collector exports at GET /metrics, from its own registry. */
async function exportedSeries(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await new Metrics().registry.getMetricsAsJSON()) {
    const type = String(metric.type);
    names.add(metric.name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords or labels. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'by', 'without']);
  const names: string[] = [];
  for (const match of bare.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*/g)) {
    const after = bare.slice(match.index + match[0].length).trimStart();
    if (after.startsWith('(') || keywords.has(match[0].toLowerCase())) continue;
    names.push(match[0]);
  }
  return names;
}

/** The environment variables the programs read: their option schemas, and the log level. */
const knownEnv = new Set([
  ...Object.values(COLLECTOR_OPTIONS).map((o) => o.env),
  ...AGENT_OPTIONS.flatMap((o) => (o.env === undefined ? [] : [o.env])),
  'IPWARDEN_LOG_LEVEL', // collector/src/server.ts
  'NODE_ENV',
]);

/** The workspace's package directories, from pnpm-workspace.yaml (`dir` or `dir/*`). */
function workspacePackages(): string[] {
  const { packages } = parse(readFileSync(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8')) as { packages: string[] };
  return packages.flatMap((glob) =>
    glob.endsWith('/*')
      ? readdirSync(join(repoRoot, glob.slice(0, -2))).map((name) => `${glob.slice(0, -2)}/${name}`)
      : [glob],
  );
}

describe('container images', () => {
  interface Instruction {
    op: string;
    args: string;
    stage: number;
  }
  /** A Containerfile's instructions, continuation lines joined and comments dropped. */
  function instructions(file: string): Instruction[] {
    const joined = read('container', file)
      .split('\n')
      .filter((line) => !/^\s*#/.test(line))
      .join('\n')
      .replace(/\\\n/g, ' ');
    let stage = -1;
    return joined
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [, op, args] = /^\s*(\w+)\s+(.*)$/.exec(line)!;
        if (op!.toUpperCase() === 'FROM') stage++;
        return { op: op!.toUpperCase(), args: args!.replace(/\s+/g, ' ').trim(), stage };
      });
  }
  const images = {
    'collector.Containerfile': 'collector/bin/ipwarden-collector.js',
    'agent.Containerfile': 'agent/bin/ipwarden-agent.js',
  };

  it.each(Object.entries(images))('%s builds in node:20-bookworm and runs in node:20-bookworm-slim', (file, bin) => {
    const all = instructions(file);
    const froms = all.filter((i) => i.op === 'FROM').map((i) => i.args);
    expect(froms).toEqual(['node:20-bookworm AS build', 'node:20-bookworm-slim']);
    // The pnpm the project pins (scripts/setup.sh), and the lockfile as it is.
    const pinned = /^PNPM_VERSION=(\S+)$/m.exec(readFileSync(join(repoRoot, 'scripts', 'setup.sh'), 'utf8'))![1];
    const runs = all.filter((i) => i.op === 'RUN' && i.stage === 0).map((i) => i.args);
    expect(runs).toContain(`npm install -g pnpm@${pinned}`);
    expect(runs.join(' ')).toMatch(/pnpm install --frozen-lockfile && pnpm build/);
    expect(runs.join(' ')).toMatch(/apt-get install -y --no-install-recommends libpcap-dev/);
    // COPY from the build context: every source exists (the context is the repository root).
    for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) expect(existsSync(join(repoRoot, source)), source).toBe(true);
    }
    // The runtime stage takes the build stage's whole workspace, and starts the program in it.
    expect(all.filter((i) => i.op === 'COPY' && i.stage === 1).map((i) => i.args)).toEqual([
      '--from=build /src /opt/ipwarden',
    ]);
    const entrypoint = JSON.parse(all.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint.at(-1)).toBe(`/opt/ipwarden/${bin}`);
    expect(existsSync(join(repoRoot, bin))).toBe(true);
    // The bin imports the package's compiled cli (dist/ from src/ by tsc -b).
    expect(readFileSync(join(repoRoot, bin), 'utf8')).toContain("from '../dist/cli.js'");
    expect(existsSync(join(repoRoot, bin.replace(/bin\/.*$/, 'src/cli.ts')))).toBe(true);
  });

  it('runs the collector as an unprivileged user that owns its data directory', () => {
    const all = instructions('collector.Containerfile');
    const user = all.filter((i) => i.op === 'USER' && i.stage === 1).at(-1)!.args;
    expect(user).toBe('10001:10001');
    const setup = all.find((i) => i.op === 'RUN' && i.stage === 1)!.args;
    expect(setup).toContain('useradd --system --uid 10001');
    expect(setup).toContain('install -d -o ipwarden -g ipwarden -m 0700 /var/lib/ipwarden');
    // Every workspace package's own build too: the dashboard's Vite build, when it has one.
    expect(all.some((i) => i.op === 'RUN' && i.args.includes('pnpm -r --if-present run build'))).toBe(true);
    expect(all.find((i) => i.op === 'HEALTHCHECK')!.args).toContain('/readyz');
  });

  it('runs the agent as root holding only CAP_NET_RAW and CAP_NET_ADMIN, and says why', () => {
    const text = read('container', 'agent.Containerfile');
    expect(text).toContain('--cap-drop ALL --cap-add NET_RAW --cap-add NET_ADMIN');
    expect(text).toContain('--network host');
    expect(text).toMatch(/# Why root with two capabilities, not a non-root user:/);
    expect(instructions('agent.Containerfile').filter((i) => i.op === 'USER')).toEqual([
      { op: 'USER', args: '0:0', stage: 1 },
    ]);
  });

  it('installs in the agent image the libpcap package the pcap addon is linked against', () => {
    const addon = join(repoRoot, 'node_modules', '.pnpm', 'pcap@3.1.0', 'node_modules', 'pcap', 'build', 'Release');
    const binding = readdirSync(addon, { recursive: true }).find((f) => String(f).endsWith('pcap_binding.node'));
    expect(binding).toBeDefined();
    const ldd = spawnSync('ldd', [join(addon, String(binding))], { encoding: 'utf8' });
    const soname = /(libpcap\.so\.[\d.]+) =>/.exec(ldd.stdout)?.[1];
    expect(soname).toBeDefined();
    const owner = spawnSync('dpkg', ['-S', `*/${soname}`], { encoding: 'utf8' });
    const pkg = /^([^:]+):/.exec(owner.stdout)?.[1];
    expect(pkg).toBe('libpcap0.8');
    const runtime = instructions('agent.Containerfile').find((i) => i.op === 'RUN' && i.stage === 1)!.args;
    expect(runtime).toContain(`apt-get install -y --no-install-recommends ${pkg}`);
  });

  it('keeps out of the build context what is built here, and nothing the build needs', () => {
    const patterns = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const matcher = (pattern: string) =>
      new RegExp(
        `^${pattern
          .replace(/[.+^${}()|\\]/g, '\\$&')
          .replace(/\*\*\//g, '(?:.*/)?')
          .replace(/\*/g, '[^/]*')}(?:/.*)?$`,
      );
    const ignored = (path: string) => patterns.some((p) => matcher(p).test(path));
    for (const path of [
      'node_modules',
      'collector/node_modules',
      'collector/dist',
      'agent/tsconfig.tsbuildinfo',
      '.git',
    ])
      expect(ignored(path), path).toBe(true);
    const needed = [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      '.npmrc',
      'tsconfig.json',
      'tsconfig.base.json',
      'patches/postgres@3.4.9.patch',
      'collector/drizzle/meta/_journal.json',
      'collector/src/cli.ts',
      'agent/src/cli.ts',
      // pnpm install --frozen-lockfile wants every workspace package's manifest.
      ...workspacePackages().map((dir) => `${dir}/package.json`),
    ];
    for (const path of needed) {
      expect(existsSync(join(repoRoot, path)), path).toBe(true);
      expect(ignored(path), path).toBe(false);
    }
  });
});

describe('compose', () => {
  const compose = parse(read('compose', 'compose.yaml')) as Doc;

  it('is valid against the Compose Specification schema, which refuses a misspelt key', () => {
    const validate = validator('compose-spec.json');
    expect(errorsOf(validate, compose)).toEqual([]);
    const broken = structuredClone(compose);
    broken.services.agent.network_mod = 'host';
    expect(errorsOf(validate, broken).join('\n')).toMatch(/must NOT have additional properties/);
  });

  it('starts the collector on a healthy PostgreSQL 15, checked on /readyz', () => {
    const { postgres, collector } = compose.services;
    expect(postgres.image).toMatch(/^postgres:15/);
    expect(collector.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(collector.environment.DATABASE_URL).toMatch(
      /^postgres:\/\/ipwarden:\$\{POSTGRES_PASSWORD:\?.*\}@postgres:5432\/ipwarden$/,
    );
    expect(collector.healthcheck.test.join(' ')).toContain("fetch('http://127.0.0.1:8460/readyz')");
    expect(collector.ports).toEqual(['8460:8460']);
    expect(collector.volumes).toEqual(['collector-data:/var/lib/ipwarden']);
    for (const name of ['postgres', 'collector']) {
      const build = compose.services[name].build;
      if (build !== undefined) expect(existsSync(join(deploy, 'compose', build.context, build.dockerfile))).toBe(true);
    }
  });

  it('runs the agent on the host network with only NET_RAW and NET_ADMIN, its state in a volume', () => {
    const { agent } = compose.services;
    expect(agent.profiles).toEqual(['agent']);
    expect(agent.network_mode).toBe('host');
    expect(agent.cap_drop).toEqual(['ALL']);
    expect(agent.cap_add).toEqual(['NET_RAW', 'NET_ADMIN']);
    expect(agent.volumes).toEqual(['agent-state:/var/lib/ipwarden-agent']);
    expect(existsSync(join(deploy, 'compose', agent.build.context, agent.build.dockerfile))).toBe(true);
  });

  it('sets only variables the programs read, from values .env.example names', () => {
    const example = read('compose', '.env.example');
    for (const service of ['collector', 'agent']) {
      for (const [name, value] of Object.entries(compose.services[service].environment as Record<string, string>)) {
        expect(knownEnv, `${service}: ${name}`).toContain(name);
        for (const [, variable] of String(value).matchAll(/\$\{(\w+)/g))
          expect(example).toMatch(new RegExp(`^${variable}=`, 'm'));
      }
    }
  });
});

describe('kubernetes', () => {
  const dir = join(deploy, 'kubernetes');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const manifests = files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => ({ file, doc: d.toJS() as Doc })),
  );
  const schemaFor: Record<string, string> = {
    'apps/v1 Deployment': 'deployment-apps-v1.json',
    'apps/v1 DaemonSet': 'daemonset-apps-v1.json',
    'v1 Service': 'service-v1.json',
    'v1 Secret': 'secret-v1.json',
    'v1 ConfigMap': 'configmap-v1.json',
    'v1 Namespace': 'namespace-v1.json',
    'policy/v1 PodDisruptionBudget': 'poddisruptionbudget-policy-v1.json',
  };
  const validators = new Map<string, ValidateFunction>();
  const validate = (key: string) => {
    if (!validators.has(key)) validators.set(key, validator(join('kubernetes-v1.30.0', schemaFor[key]!)));
    return validators.get(key)!;
  };
  const one = (kind: string, name: string): Doc =>
    manifests.find(({ doc }) => doc.kind === kind && doc.metadata.name === name)!.doc;

  it.each(manifests.map(({ file, doc }) => [`${file}: ${doc.kind} ${doc.metadata?.name}`, doc]))(
    '%s is valid against the Kubernetes 1.30 schema (strict)',
    (_, doc: Doc) => {
      const key = `${doc.apiVersion} ${doc.kind}`;
      expect(Object.keys(schemaFor)).toContain(key);
      expect(errorsOf(validate(key), doc)).toEqual([]);
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace).toBe('ipwarden');
    },
  );

  it('refuses a misspelt field: the strict schemas are what checked them', () => {
    const broken = structuredClone(one('Deployment', 'ipwarden-collector'));
    broken.spec.template.spec.containers[0].readinesProbe = { httpGet: { path: '/readyz', port: 8460 } };
    expect(errorsOf(validate('apps/v1 Deployment'), broken).join('\n')).toMatch(/must NOT have additional properties/);
  });

  it('runs two collectors from a Secret, probed on /readyz and /healthz, unprivileged and read-only', () => {
    const deployment = one('Deployment', 'ipwarden-collector');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8460, protocol: 'TCP' }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    // The uid the image creates (collector.Containerfile), never root.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 });
    expect(read('container', 'collector.Containerfile')).toContain('useradd --system --uid 10001');
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    // DATABASE_URL and both secrets come from the Secret the example shows.
    const secretName = container.envFrom.find((e: Doc) => e.secretRef).secretRef.name;
    expect(Object.keys(one('Secret', secretName).stringData).sort()).toEqual(
      ['DATABASE_URL', 'IPWARDEN_ADMIN_TOKEN', 'IPWARDEN_AGENT_SECRET'].sort(),
    );
    expect(one('ConfigMap', container.envFrom.find((e: Doc) => e.configMapRef).configMapRef.name)).toBeDefined();
    // What the root filesystem cannot hold is mounted: the data directory and /tmp.
    expect(container.volumeMounts.map((m: Doc) => m.mountPath).sort()).toEqual(['/tmp', '/var/lib/ipwarden']);
  });

  it('serves the collectors behind one Service, and keeps one up through a drain', () => {
    const service = one('Service', 'ipwarden-collector');
    const labels = one('Deployment', 'ipwarden-collector').spec.template.metadata.labels;
    expect(labels).toMatchObject(service.spec.selector);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8460, targetPort: 'http', protocol: 'TCP' }]);
    const pdb = one('PodDisruptionBudget', 'ipwarden-collector');
    expect(labels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable).toBe(1);
  });

  it('runs an agent per node on the host network with NET_RAW and NET_ADMIN only, its state on the node', () => {
    const pod = one('DaemonSet', 'ipwarden-agent').spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    const [container] = pod.containers;
    expect(container.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN'] });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
    });
    // The outbox must survive the pod: a hostPath, mounted where IPWARDEN_STATE_DIR points.
    const stateDir = container.env.find((e: Doc) => e.name === 'IPWARDEN_STATE_DIR').value;
    const mount = container.volumeMounts.find((m: Doc) => m.mountPath === stateDir);
    expect(pod.volumes.find((v: Doc) => v.name === mount.name).hostPath).toEqual({
      path: '/var/lib/ipwarden-agent',
      type: 'DirectoryOrCreate',
    });
    // The collector URL names the Service, on its port.
    const config = one('ConfigMap', container.envFrom.find((e: Doc) => e.configMapRef).configMapRef.name);
    expect(config.data.IPWARDEN_COLLECTOR).toBe('http://ipwarden-collector.ipwarden.svc:8460');
    expect(one('Secret', container.envFrom.find((e: Doc) => e.secretRef).secretRef.name).stringData).toHaveProperty(
      'IPWARDEN_AGENT_SECRET',
    );
  });

  it('sets only environment variables the programs read', () => {
    for (const { file, doc } of manifests) {
      const names: string[] = [];
      if (doc.kind === 'ConfigMap') names.push(...Object.keys(doc.data));
      if (doc.kind === 'Secret') names.push(...Object.keys(doc.stringData));
      for (const container of doc.spec?.template?.spec?.containers ?? [])
        names.push(...(container.env ?? []).map((e: Doc) => e.name));
      for (const name of names) expect(knownEnv, `${file}: ${name}`).toContain(name);
    }
  });

  it('lists every manifest in kustomization.yaml, with the images the workloads use', () => {
    const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Doc;
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
    const used = manifests.flatMap(({ doc }) =>
      (doc.spec?.template?.spec?.containers ?? []).map((c: Doc) => c.image.replace(/:.*$/, '')),
    );
    expect(kustomization.images.map((i: Doc) => i.name).sort()).toEqual([...new Set(used)].sort());
  });
});

describe('prometheus', () => {
  const rulesFile = join(deploy, 'prometheus', 'ipwarden-rules.yml');
  const rules = (parse(readFileSync(rulesFile, 'utf8')) as Doc).groups.flatMap((g: Doc) => g.rules) as Doc[];
  const tests = (parse(read('prometheus', 'ipwarden-rules.test.yml')) as Doc).tests as Doc[];

  it('passes promtool check rules', () => {
    const run = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(run.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(run.status).toBe(0);
  });

  it('passes its promtool unit tests, in which every alert fires', () => {
    const run = spawnSync('promtool', ['test', 'rules', join(deploy, 'prometheus', 'ipwarden-rules.test.yml')], {
      encoding: 'utf8',
    });
    expect(run.error).toBeUndefined();
    expect(`${run.stdout}${run.stderr}`).toContain('SUCCESS');
    expect(run.status).toBe(0);
    const fired = new Set(
      tests.flatMap((t) => (t.alert_rule_test as Doc[]).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)),
    );
    expect([...fired].sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it('reads only metrics the collector exports, in the rules and in their test series', async () => {
    const exported = await exportedSeries();
    for (const rule of rules) for (const name of metricNames(rule.expr)) expect(exported, rule.alert).toContain(name);
    for (const test of tests)
      for (const { series } of test.input_series as Doc[])
        expect(exported, test.name).toContain(/^[\w:]+/.exec(series)![0]);
    // The extraction itself: labels, ranges, grouping and functions are not metric names.
    expect(
      metricNames('sum by (le) (rate(a_bucket{x="y{z}"}[5m])) > 0 unless max_over_time(b[1h:1m]) offset 5m'),
    ).toEqual(['a_bucket', 'b']);
  });
});

describe('grafana', () => {
  // Grafana's own placeholder, filled with the data source chosen at import: not a template literal.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: see above
  const prometheus = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
  const dashboard = JSON.parse(read('grafana', 'ipwarden.json')) as Doc;
  const panels = (dashboard.panels as Doc[]).flatMap((p) => [p, ...(p.panels ?? [])]) as Doc[];
  const targets = panels.flatMap((p) => (p.targets ?? []) as Doc[]);

  it('is a dashboard of schema 39 on the DS_PROMETHEUS data source variable, with unique panel ids', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.templating.list.find((v: Doc) => v.name === 'DS_PROMETHEUS')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels.filter((p) => p.type !== 'row'))
      expect(panel.datasource, panel.title).toEqual(prometheus);
    for (const target of targets) expect(target.datasource).toEqual(prometheus);
  });

  it('lays its panels out without overlap', () => {
    const cells = new Set<string>();
    for (const { gridPos: g, title } of panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  it("queries only metrics the collector exports, and shows every one of the collector's own", async () => {
    const exported = await exportedSeries();
    const used = new Set<string>();
    const exprs = [
      ...targets.map((t) => t.expr as string),
      ...dashboard.templating.list.filter((v: Doc) => v.type === 'query').map((v: Doc) => v.definition),
    ];
    for (const expr of exprs) {
      const names = metricNames(expr.replace(/^label_values\((\w+),.*\)$/, '$1'));
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        expect(exported, expr).toContain(name);
        used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    // Those metrics.ts defines itself (not prom-client's process and Node.js defaults).
    const own = [...readFileSync(join(repoRoot, 'collector', 'src', 'metrics.ts'), 'utf8').matchAll(/name: '(\w+)'/g)];
    expect(own.length).toBeGreaterThan(20);
    for (const [, name] of own) expect(used, name).toContain(name);
  });
});
