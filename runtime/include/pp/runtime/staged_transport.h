#pragma once
// Device memory over a transport that moves host memory only (MPI builds that are not CUDA-aware,
// several ranks sharing one GPU): each device buffer is copied through pinned host memory.
//
//   isend(device)  download into a pinned buffer (waits for the device work that produced it),
//                  then the inner isend of the pinned buffer
//   irecv(device)  the inner irecv into a pinned buffer; wait() then uploads it to the device
//                  buffer, ordered before later device work (the host does not wait for the copy)
//   allreduce_sum  download, the inner sum on the host, upload
// Host buffers pass through unchanged. Receives may be posted ahead as the inner transport allows.

#include <cstddef>
#include <memory>

#include "pp/runtime/transport.h"

namespace pp {

// What a device backend provides for staging: pinned host buffers and copies to and from them.
class HostStaging {
 public:
  virtual ~HostStaging() = default;
  // A host Buffer of `count` floats (pinned where the device has such memory); contents
  // unspecified. Pooled: released buffers are handed out again.
  virtual Buffer acquire_host(std::size_t count) = 0;
  // Gives back a buffer from acquire_host() once no copy into or out of it is pending.
  virtual void release_host(const Buffer& host) = 0;
  // device -> host; the host values are complete when it returns.
  virtual void download(const Buffer& device, const Buffer& host) = 0;
  // host -> device, ordered before any later device work that reads `device`. The host buffer
  // may be released at once: the staging keeps it until the copy has read it.
  virtual void upload(const Buffer& host, const Buffer& device) = 0;
  // Host buffers currently acquired and not released (for tests and leak checks).
  virtual std::size_t host_buffers_out() const = 0;
};

// Wraps `inner` (owned). `staging` must outlive the transport and every transport split from it.
std::unique_ptr<Transport> staged(std::unique_ptr<Transport> inner, HostStaging* staging);

}  // namespace pp
