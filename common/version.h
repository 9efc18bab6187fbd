/* The version of subagent: `subagent version`, the image tag, build_info metrics. */
#ifndef SA_VERSION_H
#define SA_VERSION_H

#define SUBAGENT_VERSION "0.1.0"

#endif
