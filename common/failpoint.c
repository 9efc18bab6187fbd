/* Failpoints from SUBAGENT_FAILPOINTS (see failpoint.h). */
#include "common/failpoint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define FP_MAX 16
#define FP_NAME 48

static struct {
	char name[FP_NAME];
	unsigned left;
} fps[FP_MAX];
static unsigned n_fps;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void parse(void)
{
	const char *env = getenv("SUBAGENT_FAILPOINTS");
	char buf[512], *save = NULL, *tok;

	if (!env || !*env)
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	for (tok = strtok_r(buf, ",", &save); tok && n_fps < FP_MAX; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		unsigned long cnt = 1;

		if (eq) {
			*eq = '\0';
			cnt = strtoul(eq + 1, NULL, 10);
		}
		if (!*tok || strlen(tok) >= FP_NAME)
			continue;
		snprintf(fps[n_fps].name, FP_NAME, "%s", tok);
		fps[n_fps++].left = (unsigned)cnt;
		pr_warn("failpoint %s armed for %lu hit(s) (SUBAGENT_FAILPOINTS: tests only)\n", tok,
			cnt);
	}
}

bool failpoint(const char *name)
{
	bool hit = false;

	pthread_once(&once, parse);
	if (!n_fps)
		return false;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < n_fps; i++) {
		if (!strcmp(fps[i].name, name) && fps[i].left) {
			fps[i].left--;
			hit = true;
		}
	}
	pthread_mutex_unlock(&lock);
	if (hit)
		pr_warn("failpoint %s: failing this step on purpose\n", name);
	return hit;
}
