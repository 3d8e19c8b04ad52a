"""Private descriptor pool of our generated etcd messages."""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
