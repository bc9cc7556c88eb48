/* See virtio.c. */
#ifndef HNV_VIRTIO_H_
#define HNV_VIRTIO_H_

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*hnv_constant_sink)(void* ctx, const char* name, long value);
void hnv_virtio_constants(hnv_constant_sink sink, void* ctx);

#ifdef __cplusplus
}
#endif

#endif /* HNV_VIRTIO_H_ */
