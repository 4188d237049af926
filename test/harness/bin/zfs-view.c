/*
 * zfs-view's fast path. The view (bin/zfs-view, bash) stands between the tool and the real zfs/zpool
 * on every call, and under the test VM's emulated CPU starting bash costs about as much as starting
 * zfs itself (~0.25 s): the tool's calls cost twice what a plain `zfs send | zfs receive` pays, which
 * is an artefact of the simulation, not of the tool. This program makes the same decision as the
 * script for the usual calls and execs the real binary at once; every other case (a hidden operand,
 * a long option, a malformed call) goes to the bash script, which stays the reference. It never
 * changes an argument except to append the view's pools to a listing without operands, as the
 * script does. test/unit/harness/bin-scripts.test.ts runs the script's cases through both.
 *
 * Configuration: the file named as this executable plus ".view" (/proc/self/exe), lines
 *   kind=zfs|zpool   real=/usr/sbin/zfs   pools=mainpool other   script=/path/to/bin/zfs-view
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_POOLS 16
#define MAX_ARGS 4096

static char kind[16], real[4096], script[4096], pools_line[4096];
static char *pools[MAX_POOLS];
static int npools;

static void die(const char *why) __attribute__((noreturn));
static void die(const char *why) {
  fprintf(stderr, "zfs-view (fast path): %s\n", why);
  exit(126);
}

static void load_config(void) {
  char exe[4096], path[4200], line[4200];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) die("cannot read /proc/self/exe");
  exe[n] = '\0';
  snprintf(path, sizeof path, "%s.view", exe);
  FILE *f = fopen(path, "r");
  if (!f) die("no .view configuration beside the executable");
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    const char *v = eq + 1;
    if (!strcmp(line, "kind")) snprintf(kind, sizeof kind, "%s", v);
    else if (!strcmp(line, "real")) snprintf(real, sizeof real, "%s", v);
    else if (!strcmp(line, "script")) snprintf(script, sizeof script, "%s", v);
    else if (!strcmp(line, "pools")) snprintf(pools_line, sizeof pools_line, "%s", v);
  }
  fclose(f);
  if (!*kind || !*real || !*script) die("incomplete .view configuration");
  for (char *p = strtok(pools_line, " \t"); p && npools < MAX_POOLS; p = strtok(NULL, " \t")) pools[npools++] = p;
}

/* The script itself, with the same configuration in its environment. */
static void fallback(char **argv) __attribute__((noreturn));
static void fallback(char **argv) {
  setenv("QZB_VIEW_KIND", kind, 1);
  setenv("QZB_VIEW_REAL", real, 1);
  char joined[4096] = "";
  for (int i = 0; i < npools; i++) {
    if (i) strncat(joined, " ", sizeof joined - strlen(joined) - 1);
    strncat(joined, pools[i], sizeof joined - strlen(joined) - 1);
  }
  setenv("QZB_VIEW_POOLS", joined, 1);
  argv[0] = script;
  int argc = 0;
  while (argv[argc]) argc++;
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) die("out of memory");
  args[0] = "bash";
  for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
  execv("/bin/bash", args);
  die("cannot exec /bin/bash");
}

static int in_view(const char *op) {
  size_t len = strcspn(op, "/@#");
  for (int i = 0; i < npools; i++)
    if (strlen(pools[i]) == len && !strncmp(pools[i], op, len)) return 1;
  return 0;
}

static int is(const char *s, const char *const *set) {
  for (; *set; set++)
    if (!strcmp(s, *set)) return 1;
  return 0;
}

static int all_digits_dots(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || *s == '.')) return 0;
  return 1;
}

int main(int argc, char **argv) {
  load_config();
  int zfs = !strcmp(kind, "zfs");
  if (argc < 2) execv(real, (char *[]){real, NULL});
  if (argc > MAX_ARGS) fallback(argv);
  const char *sub = argv[1];
  char **args = argv + 2;
  int nargs = argc - 2;

  const char *optargs = "";
  if (zfs) {
    if (is(sub, (const char *const[]){"list", "userspace", "groupspace", "projectspace", NULL})) optargs = "osStd";
    else if (!strcmp(sub, "get")) optargs = "ostd";
    else if (!strcmp(sub, "create")) optargs = "oVb";
    else if (is(sub, (const char *const[]){"snapshot", "snap", "clone", "change-key", NULL})) optargs = "o";
    else if (!strcmp(sub, "send")) optargs = "iItX";
    else if (is(sub, (const char *const[]){"receive", "recv", NULL})) optargs = "ox";
    else if (!strcmp(sub, "load-key")) optargs = "L";
    else if (!strcmp(sub, "upgrade")) optargs = "V";
    else if (!strcmp(sub, "wait")) optargs = "t";
  } else {
    if (!strcmp(sub, "list")) optargs = "oT";
    else if (!strcmp(sub, "status")) optargs = "Tc";
    else if (!strcmp(sub, "get")) optargs = "o";
  }

  int operands[MAX_ARGS], nops = 0, have_r = 0, have_d = 0, ends = 0;
  for (int i = 0; i < nargs; i++) {
    const char *a = args[i];
    if (ends || a[0] != '-' || !strcmp(a, "-")) {
      operands[nops++] = i;
    } else if (!strcmp(a, "--")) {
      ends = 1;
    } else if (a[1] == '-') {
      fallback(argv); /* long options: the script's business */
    } else {
      for (size_t j = 1; a[j]; j++) {
        char c = a[j];
        if (strchr(optargs, c)) {
          const char *val;
          if (a[j + 1]) val = a + j + 1;
          else if (++i < nargs) val = args[i];
          else fallback(argv);
          if (c == 'd' && (!strcmp(sub, "list") || !strcmp(sub, "get"))) have_d = 1;
          /* an incremental base outside the view: the script says it is missing */
          if (zfs && !strcmp(sub, "send") && (c == 'i' || c == 'I') && val[0] != '@' && val[0] != '#' && !in_view(val)) fallback(argv);
          break;
        }
        if (c == 'r') have_r = 1;
      }
    }
  }

  int skip_first = 0, first_only = 0, check = 1;
  if (zfs) {
    if (is(sub, (const char *const[]){"get", "inherit", "hold", "release", NULL})) skip_first = 1;
    else if (is(sub, (const char *const[]){"allow", "unallow", "program", "mount", "unmount", "umount", "share", "unshare", "version", "jail", "unjail", "zone", "unzone", NULL})) check = 0;
  } else {
    if (is(sub, (const char *const[]){"list", "status", "history", "iostat", "sync", "wait", NULL})) {
    } else if (!strcmp(sub, "get")) skip_first = 1;
    else if (!strcmp(sub, "set")) skip_first = first_only = 1;
    else if (is(sub, (const char *const[]){"scrub", "export", "destroy", "clear", "trim", "initialize", "upgrade", "online", "offline", "reopen", "checkpoint", "resilver", "attach", "detach", "replace", "remove", "add", "split", "reguid", "events", NULL})) first_only = 1;
    else check = 0;
  }

  int dataset_operands = 0;
  if (check) {
    for (int k = 1; k <= nops; k++) {
      const char *op = args[operands[k - 1]];
      if (skip_first && k == 1) continue;
      if (first_only && k > 1 + skip_first) break;
      if (zfs && !strcmp(sub, "set") && strchr(op, '=')) continue;
      if (op[0] == '/') { dataset_operands++; continue; }
      if ((!strcmp(sub, "iostat") || !strcmp(sub, "list")) && !zfs && all_digits_dots(op)) continue;
      dataset_operands++;
      if (!in_view(op)) fallback(argv); /* hidden: the script prints what ZFS would */
    }
  }

  int listing = zfs ? (!strcmp(sub, "list") || !strcmp(sub, "get"))
                    : is(sub, (const char *const[]){"list", "status", "get", "history", NULL});
  char **out = calloc((size_t)argc + MAX_POOLS + 2, sizeof *out);
  if (!out) die("out of memory");
  int n = 0;
  out[n++] = real;
  out[n++] = (char *)sub;
  if (listing && dataset_operands == 0 && !(skip_first && nops == 0)) {
    if (npools == 0) fallback(argv);
    if (zfs && !have_r && !have_d) out[n++] = "-r";
    for (int i = 0; i < nargs; i++) out[n++] = args[i];
    for (int i = 0; i < npools; i++) out[n++] = pools[i];
  } else {
    for (int i = 0; i < nargs; i++) out[n++] = args[i];
  }
  out[n] = NULL;
  execv(real, out);
  perror(real);
  return 127;
}
