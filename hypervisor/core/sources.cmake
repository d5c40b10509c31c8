# The architecture-neutral core: compiled into the hypervisor and, unchanged,
# for the host where the unit tests exercise it.
set(LAMINA_CORE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(LAMINA_CORE_SOURCES
    ${LAMINA_CORE_DIR}/format.cpp
    ${LAMINA_CORE_DIR}/fdt.cpp
    ${LAMINA_CORE_DIR}/fdt_writer.cpp
    ${LAMINA_CORE_DIR}/platform.cpp
    ${LAMINA_CORE_DIR}/bundle.cpp
    ${LAMINA_CORE_DIR}/frame_allocator.cpp
    ${LAMINA_CORE_DIR}/fair_share.cpp
    ${LAMINA_CORE_DIR}/latency_histogram.cpp
    ${LAMINA_CORE_DIR}/scaling_policy.cpp
    ${LAMINA_CORE_DIR}/guest_boot.cpp
    ${LAMINA_CORE_DIR}/guest_device_tree.cpp
    ${LAMINA_CORE_DIR}/boot_options.cpp
    ${LAMINA_CORE_DIR}/console.cpp
    ${LAMINA_CORE_DIR}/json.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtual_gic.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtqueue.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtio_mmio.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtio_console.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtual_switch.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/service_balancer.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/packet.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtio_net.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtio_block.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtio_input.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/virtio_balloon.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/ram_disk.cpp
    ${LAMINA_CORE_DIR}/../virtual_devices/disk_slice.cpp
    ${LAMINA_CORE_DIR}/../management/request.cpp
)
