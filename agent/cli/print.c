/* The CLI's print layer: aligned text tables or JSON from the same rows. */
#include "agent/cli/print.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

#define CELL_MAX 256

static void render(const cJSON *v, char *buf, size_t len)
{
	if (!v || cJSON_IsNull(v)) {
		snprintf(buf, len, "-");
	} else if (cJSON_IsString(v)) {
		snprintf(buf, len, "%s", v->valuestring);
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "yes" : "no");
	} else if (cJSON_IsNumber(v)) {
		snprintf(buf, len, "%.0f", v->valuedouble);
	} else if (cJSON_IsArray(v)) {
		const cJSON *it;
		size_t off = 0;

		buf[0] = '\0';
		cJSON_ArrayForEach(it, v) {
			char one[CELL_MAX];

			render(it, one, sizeof(one));
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
						off ? "," : "", one);
			if (off >= len)
				break;
		}
		if (!off)
			snprintf(buf, len, "-");
	} else {
		snprintf(buf, len, "?");
	}
}

void print_fmt_ns(const cJSON *v, char *buf, size_t len)
{
	if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3fms", v->valuedouble / 1e6);
}

void print_table(FILE *f, const cJSON *rows, const struct print_col *cols, unsigned ncols)
{
	int nrows = cJSON_GetArraySize(rows);
	char (*cells)[CELL_MAX] = calloc((size_t)(nrows + 1) * ncols, CELL_MAX);
	size_t *w = calloc(ncols, sizeof(*w));

	if (!cells || !w)
		goto out;
	for (unsigned c = 0; c < ncols; c++) {
		snprintf(cells[c], CELL_MAX, "%s", cols[c].header);
		w[c] = strlen(cells[c]);
	}
	for (int r = 0; r < nrows; r++) {
		const cJSON *row = cJSON_GetArrayItem(rows, r);

		for (unsigned c = 0; c < ncols; c++) {
			char *cell = cells[(size_t)(r + 1) * ncols + c];
			const cJSON *v = json_at(row, cols[c].key);

			if (cols[c].fmt)
				cols[c].fmt(v, cell, CELL_MAX);
			else
				render(v, cell, CELL_MAX);
			if (strlen(cell) > w[c])
				w[c] = strlen(cell);
		}
	}
	for (int r = 0; r <= nrows; r++) {
		for (unsigned c = 0; c < ncols; c++) {
			const char *cell = cells[(size_t)r * ncols + c];

			if (c + 1 < ncols)
				fprintf(f, "%-*s  ", (int)w[c], cell);
			else
				fprintf(f, "%s\n", cell);
		}
	}
out:
	free(cells);
	free(w);
}

int print_json(FILE *f, const cJSON *v)
{
	char *s = cJSON_Print(v);

	if (!s)
		return -ENOMEM;
	fprintf(f, "%s\n", s);
	free(s);
	return 0;
}

void print_rows(FILE *f, const cJSON *rows, const struct print_col *cols, unsigned ncols,
		bool json)
{
	if (json)
		(void)print_json(f, rows);
	else
		print_table(f, rows, cols, ncols);
}
