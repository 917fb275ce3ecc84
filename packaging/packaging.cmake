# Man pages, the packaged /etc/hotline configuration and the .deb (`cpack -G DEB` in the
# build dir). Included from the top-level CMakeLists.txt after the install() rules.

# Man pages: plain man(7) troff in docs/man, gzipped as Debian ships them.
set(HOTLINE_MAN_OUT ${CMAKE_BINARY_DIR}/man)
set(HOTLINE_MAN_PAGES)
foreach(page hotlined.8 hotlinectl.1 hotline.yaml.5)
  string(REGEX MATCH "[0-9]$" section ${page})
  set(out ${HOTLINE_MAN_OUT}/${page}.gz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${HOTLINE_MAN_OUT}
    COMMAND sh -c "gzip -9nc \"$0\" > \"$1\"" ${CMAKE_SOURCE_DIR}/docs/man/${page} ${out}
    DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/${page}
    COMMENT "man page ${page}" VERBATIM)
  list(APPEND HOTLINE_MAN_PAGES ${out})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${HOTLINE_MAN_PAGES})

install(FILES README.md docs/architecture.md docs/channels.md docs/configuration.md
  docs/operations.md docs/rules.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# /etc/hotline for the package only (component etc, not part of `cmake --install`, which
# must not write to the host's /etc): the example with the packaged paths.
file(READ ${CMAKE_SOURCE_DIR}/conf/hotline.yaml example)
set(packaged "${example}")
string(REPLACE "secrets_dir: ../var/secrets" "secrets_dir: /etc/hotline/secrets" packaged
  "${packaged}")
string(REPLACE "path: ../var/hotline.db" "path: /var/lib/hotline/hotline.db" packaged
  "${packaged}")
if(NOT packaged MATCHES "secrets_dir: /etc/hotline/secrets" OR
   NOT packaged MATCHES "path: /var/lib/hotline/hotline.db")
  message(FATAL_ERROR "packaging/packaging.cmake: conf/hotline.yaml no longer has the "
    "secrets_dir/storage.path lines it rewrites for /etc/hotline")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/packaging/etc/hotline.yaml "${packaged}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/conf/hotline.yaml)
install(FILES ${CMAKE_BINARY_DIR}/packaging/etc/hotline.yaml DESTINATION /etc/hotline
  COMPONENT etc EXCLUDE_FROM_ALL)
install(DIRECTORY conf/ DESTINATION /etc/hotline COMPONENT etc EXCLUDE_FROM_ALL
  PATTERN hotline.yaml EXCLUDE)

# Every file under /etc is a conffile: an upgrade keeps the admin's edits.
file(GLOB_RECURSE etc_files RELATIVE ${CMAKE_SOURCE_DIR}/conf ${CMAKE_SOURCE_DIR}/conf/*)
list(SORT etc_files)
set(conffiles "")
foreach(f ${etc_files})
  string(APPEND conffiles "/etc/hotline/${f}\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "${conffiles}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hotline)
set(CPACK_PACKAGE_VENDOR "hotline")
set(CPACK_PACKAGE_CONTACT "hotline maintainers <hotline@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "threat-report intake and alert-routing daemon for human-rights-defender hotlines")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "hotlined takes threat reports over HTTP, stores each durably and sealed (SQLite),\n routes them with YAML rules and notifies responders through channel plugins\n (webhook, smtp) with retries and dead letters. hotlinectl checks the\n configuration, explains routing, sends test messages, backs up and re-keys.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Dependencies from the binaries' and modules' shared libraries (dpkg-shlibdeps), plus
# systemd for sysusers.d/tmpfiles.d in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/postinst
  ${CMAKE_SOURCE_DIR}/packaging/postrm ${CMAKE_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Everything `cmake --install` installs, plus /etc/hotline.
set(CPACK_INSTALL_CMAKE_PROJECTS
  "${CMAKE_BINARY_DIR};hotline;ALL;/"
  "${CMAKE_BINARY_DIR};hotline;etc;/")
include(CPack)
