/* One print layer for every command (`show`, `verify`, `globalnet list`, ...): rows are cJSON objects; text output renders
 * the chosen columns as an aligned table, JSON output prints the rows themselves, so the
 * two never disagree. */
#ifndef SA_CLI_PRINT_H
#define SA_CLI_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

struct print_col {
	const char *header;
	const char *key;	/* "a" or "a.b" into the row object */
	/* how to render the value: NULL for the default (strings as is, numbers as
	 * integers, bools yes/no, arrays joined with ","), or a function */
	void (*fmt)(const cJSON *v, char *buf, size_t len);
};

/* Prints rows (a JSON array) as a table with the given columns. */
void print_table(FILE *f, const cJSON *rows, const struct print_col *cols, unsigned ncols);
/* Prints v as indented JSON and a newline. 0 or -ENOMEM. */
int print_json(FILE *f, const cJSON *v);
/* The rows as a table of cols, or (json) as a JSON array. */
void print_rows(FILE *f, const cJSON *rows, const struct print_col *cols, unsigned ncols,
		bool json);
/* Renders a nanosecond value as "1.234ms". */
void print_fmt_ns(const cJSON *v, char *buf, size_t len);

#endif
