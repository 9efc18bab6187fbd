/* One print layer for `show` and `verify`: rows are cJSON objects; text output renders
 * the chosen columns as an aligned table, JSON output prints the rows themselves, so the
 * two never disagree. */
#ifndef SA_TABLE_H
#define SA_TABLE_H

#include <stdio.h>

#include <cjson/cJSON.h>

struct table_col {
	const char *header;
	const char *key;	/* "a" or "a.b" into the row object */
	/* how to render the value: NULL for the default (strings as is, numbers as
	 * integers, bools yes/no, arrays joined with ","), or a function */
	void (*fmt)(const cJSON *v, char *buf, size_t len);
};

/* Prints rows (a JSON array) as a table with the given columns. */
void table_print(FILE *f, const cJSON *rows, const struct table_col *cols, unsigned ncols);
/* Renders a nanosecond value as "1.234ms". */
void table_fmt_ns(const cJSON *v, char *buf, size_t len);

#endif
