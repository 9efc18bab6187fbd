# broker/: server/ (HTTPS API, validation, watch), store/ (SQLite, etcd), client/ (the
# client library and informer every other part uses), creds/ (PKI, broker-info, cluster
# configuration).
LIB_SRCS += $(wildcard broker/server/*.c)
LIB_SRCS += $(wildcard broker/store/*.c)
LIB_SRCS += $(wildcard broker/client/*.c)
LIB_SRCS += $(wildcard broker/creds/*.c)
